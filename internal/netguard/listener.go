// Package netguard puts the limits every server of the cluster needs in
// front of its listeners, so that no peer, authenticated or not, can make
// a server run out of descriptors or memory:
//
//   - a cap on open connections per listener (excess connections are
//     accepted and closed at once, so that they hold no descriptor and do
//     not fill the kernel's backlog);
//   - an idle timeout for the raw protocols (the Pegasus wire protocol, the
//     Redis front end): a connection that sends nothing for that long is
//     closed;
//   - a deadline for a new connection to show what it speaks;
//   - TLS, optional or required: a listener with a TLS configuration tells
//     a TLS client from a plaintext one by the first byte (a TLS handshake
//     starts with 0x16) and, when TLS is required, closes plaintext ones;
//   - a Budget of request bytes that every connection of a server draws on
//     before it buffers a request.
//
// The listener finishes the TLS handshake before it hands a connection
// over, so a server only ever sees peers that proved their certificate.
// gRPC servers take the connections through ServerCredentials, which
// reports the peer's certificate to the interceptors.
package netguard

import (
	"bufio"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	// DefaultMaxConns caps the open connections of one listener when the
	// descriptor limit allows it (see AutoMaxConns).
	DefaultMaxConns = 4096
	// DefaultIdleTimeout closes raw-protocol connections silent this long.
	// Redis' own default never closes idle clients; clients of both
	// protocols reconnect when a pooled connection was closed.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultHandshakeTimeout bounds how long a new connection may take to
	// send its first byte and finish a TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
)

// Config says what a listener enforces. The zero value enforces the
// defaults of every limit and plaintext.
type Config struct {
	// Name names the listener in logs ("grpc", "http", "pegasus", "redis").
	Name string
	// MaxConns caps the open connections; 0 means AutoMaxConns(), a
	// negative value means no cap.
	MaxConns int
	// IdleTimeout closes a connection that sent nothing for that long; 0
	// means no idle timeout (gRPC and HTTP have their own).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the first byte and the TLS handshake; 0
	// means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// TLS, when set, is the server side of TLS; connections that start
	// with a TLS handshake are served over it.
	TLS *tls.Config
	// RequireTLS closes connections that do not start with a TLS
	// handshake. Without TLS it is an error.
	RequireTLS bool
	// Logger receives one warning per burst of refused connections; nil
	// means slog.Default().
	Logger *slog.Logger
}

// ErrTLSRequiredWithoutConfig is returned for RequireTLS without TLS.
var ErrTLSRequiredWithoutConfig = errors.New("netguard: TLS required but no TLS configuration")

// AutoMaxConns is the default cap of a listener: DefaultMaxConns, or an
// eighth of the process's descriptor limit when that is lower, so that
// a server with a few listeners keeps at least half of its descriptors for
// its files (a Pebble store keeps many open).
func AutoMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return DefaultMaxConns
	}
	return max(64, min(DefaultMaxConns, int(rl.Cur/8)))
}

// Listen listens on addr and wraps the listener with cfg.
func Listen(addr string, cfg Config) (*Listener, error) {
	if cfg.RequireTLS && cfg.TLS == nil {
		return nil, ErrTLSRequiredWithoutConfig
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Wrap(ln, cfg), nil
}

// Listener enforces a Config on an inner listener.
type Listener struct {
	inner net.Listener
	cfg   Config

	open     atomic.Int64
	refused  atomic.Int64
	lastWarn atomic.Int64

	// With TLS, connections are sorted (TLS or not) by a goroutine each,
	// off the accept loop, and handed to Accept through ready.
	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	acceptErr atomic.Pointer[error]
	loopOnce  sync.Once
}

// Wrap wraps ln with cfg. Closing the result closes ln.
func Wrap(ln net.Listener, cfg Config) *Listener {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = AutoMaxConns()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Listener{inner: ln, cfg: cfg, ready: make(chan net.Conn), done: make(chan struct{})}
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close closes the inner listener; Accept returns net.ErrClosed.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.inner.Close()
}

// Open returns the number of connections open now.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Refused returns the number of connections closed at accept because the
// cap was reached, or because they spoke plaintext where TLS is required.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	if l.cfg.TLS == nil {
		for {
			c, err := l.inner.Accept()
			if err != nil {
				return nil, err
			}
			if gc := l.admit(c); gc != nil {
				return gc, nil
			}
		}
	}
	l.loopOnce.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		if p := l.acceptErr.Load(); p != nil {
			return nil, *p
		}
		return nil, net.ErrClosed
	}
}

// acceptLoop accepts for a TLS listener: each connection is sorted by a
// goroutine of its own, so a client that never sends its first byte holds
// up nobody else.
func (l *Listener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: pause rather than spin, as net/http
				// does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			l.acceptErr.Store(&err)
			l.closeOnce.Do(func() { close(l.done) })
			return
		}
		backoff = 0
		gc := l.admit(c)
		if gc == nil {
			continue
		}
		go l.sort(gc)
	}
}

// sort reads the first byte of c: a TLS handshake record is served over
// TLS, anything else as plaintext unless TLS is required. The TLS
// handshake runs here too, under the handshake deadline, so that a server
// gets only connections whose peer proved its certificate.
func (l *Listener) sort(c *guardedConn) {
	_ = c.SetReadDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	first, err := c.br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = c
	switch {
	case first[0] == 0x16:
		tc := tls.Server(c, l.cfg.TLS)
		_ = c.SetWriteDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			l.refuse(c, "TLS handshake failed: "+err.Error())
			return
		}
		_ = c.SetWriteDeadline(time.Time{})
		out = tc
	case l.cfg.RequireTLS:
		l.refuse(c, "plaintext connection on a TLS-only listener")
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	select {
	case l.ready <- out:
	case <-l.done:
		c.Close()
	}
}

// admit counts c against the cap; over the cap it closes c and returns
// nil.
func (l *Listener) admit(c net.Conn) *guardedConn {
	if n := l.open.Add(1); l.cfg.MaxConns > 0 && n > int64(l.cfg.MaxConns) {
		l.open.Add(-1)
		l.refuse(c, "connection cap reached")
		return nil
	}
	gc := &guardedConn{Conn: c, l: l, idle: l.cfg.IdleTimeout}
	if l.cfg.TLS != nil {
		gc.br = bufio.NewReaderSize(c, 16)
	}
	return gc
}

// refuse closes c and logs at most one warning per second.
func (l *Listener) refuse(c net.Conn, why string) {
	c.Close()
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	if last := l.lastWarn.Load(); now-last > int64(time.Second) && l.lastWarn.CompareAndSwap(last, now) {
		l.cfg.Logger.Warn("connection refused", "listener", l.cfg.Name, "why", why,
			"open", l.open.Load(), "max_connections", l.cfg.MaxConns, "refused_total", n)
	}
}

// guardedConn releases its slot when closed and, with an idle timeout,
// fails a Read that waited that long for a byte.
type guardedConn struct {
	net.Conn
	l    *Listener
	idle time.Duration
	// br holds the byte peeked to tell TLS from plaintext.
	br     *bufio.Reader
	closed atomic.Bool
	// deadline is the read deadline the connection's user set (Unix
	// nanoseconds, 0 for none); with an idle timeout, every Read waits
	// until the earlier of the two.
	deadline atomic.Int64
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		d := time.Now().Add(c.idle)
		if u := c.deadline.Load(); u != 0 && u < d.UnixNano() {
			d = time.Unix(0, u)
		}
		_ = c.Conn.SetReadDeadline(d)
	}
	if c.br != nil && c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	return c.Conn.Read(p)
}

// SetReadDeadline sets the user's deadline; the idle timeout still
// applies when it comes first.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	c.deadline.Store(unixNanoOrZero(t))
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines; the read side as SetReadDeadline.
func (c *guardedConn) SetDeadline(t time.Time) error {
	c.deadline.Store(unixNanoOrZero(t))
	return c.Conn.SetDeadline(t)
}

func unixNanoOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// CloseWrite shuts the write side down when the inner connection can
// (TCP), so that a server may say why it refuses a request before closing.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *guardedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}
