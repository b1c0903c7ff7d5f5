package pegasusserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/pegasus-go/pegasus/internal/netguard"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// Handler executes the decoded requests of a Listener. Serve is called
// concurrently, once per request, with a context that ends at the request's
// deadline (Config.DefaultTimeout, or the client_timeout of its header when
// that is longer) or when the Listener closes.
//
// It returns the rpc-level error code of the response and, with CodeOK, the
// result value of the request's RPC. Storage-level outcomes (a missing key,
// a failed check) belong in the result's error field, not in the code. For
// one-way RPCs the return values are discarded: nothing is ever sent back.
//
// Byte slices in req.Args alias the request's frame, which is never reused,
// so a handler may keep them.
type Handler interface {
	Serve(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value)

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	return f(ctx, req)
}

// Defaults of Config.
const (
	// DefaultMaxInFlight bounds the requests of one connection that are
	// being executed at once. The official clients pipeline every call of a
	// process to one server over one connection, so this is per client
	// process, not per caller.
	DefaultMaxInFlight = 256
	// DefaultRequestTimeout is the deadline of a request whose header
	// carries no client_timeout.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultBodyTimeout bounds how long the rest of a frame may take to
	// arrive once its header is in.
	DefaultBodyTimeout = 30 * time.Second
)

// Config tunes a Listener. Zero fields take the defaults.
type Config struct {
	// MaxBodySize bounds the thrift body of one request frame;
	// pegasusrpc.DefaultMaxBodySize when zero.
	MaxBodySize int
	// MaxInFlight bounds the requests of one connection executing at once;
	// the connection is not read further while the bound is reached, which
	// pushes back on the client through TCP flow control.
	MaxInFlight int
	// DefaultTimeout bounds the execution of every request. A request
	// whose header asks for a longer client_timeout gets that instead; a
	// shorter one does not cut execution short, as in Pegasus' server,
	// which executes a request whatever its header's timeout says (the
	// official Go client fills it with an arbitrary value when the
	// caller's context has no deadline).
	DefaultTimeout time.Duration
	// Budget, when set, caps the request bytes buffered across every
	// connection of the Listener (and of any other listener sharing it):
	// a frame's bytes are reserved once its header is read, before they
	// are buffered, and given back when the request is answered.
	Budget *netguard.Budget
	// BodyTimeout bounds how long the rest of a frame may take once its
	// header is in; DefaultBodyTimeout when zero.
	BodyTimeout time.Duration
	// DropTimedOutRequests drops, unanswered, a request whose client
	// timeout passed while it waited for an execution slot: Pegasus'
	// rpc_request_dropped_before_execution_when_timeout, off by default
	// as there. A dropped request is never executed, so its client's
	// timeout means "not applied".
	DropTimedOutRequests bool
	// Now is the clock of DropTimedOutRequests (default time.Now).
	Now func() time.Time
	// Logger receives one line per connection closed on bad input, and
	// handler failures. nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = pegasusrpc.DefaultMaxBodySize
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = DefaultRequestTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Listener serves the Pegasus wire protocol on accepted connections and
// hands every request to its Handler. It knows frames, sequence ids,
// deadlines and connection lifetimes; what a request means is the
// Handler's business.
//
// Each connection has one reader (frames are read and decoded in order),
// up to Config.MaxInFlight requests executing concurrently, and one writer
// that sends responses as they complete: clients match them by sequence id,
// so their order is free. A frame that breaks the framing closes that
// connection only; a body that does not decode is answered with an error
// code and the connection carries on.
type Listener struct {
	h   Handler
	cfg Config

	// ctx is the parent of every request context; Close cancels it so
	// that requests waiting on the local server give up at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}

	wg sync.WaitGroup // Serve loops and connections
}

// NewListener returns a Listener that serves requests with h.
func NewListener(h Handler, cfg Config) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	return &Listener{
		h:         h,
		cfg:       cfg.withDefaults(),
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*serverConn]struct{}),
	}
}

// Serve accepts connections on ln and serves each in its own goroutines
// until ln fails or the Listener is closed; it then returns ErrClosed, or
// the accept error. Close closes ln.
func (l *Listener) Serve(ln net.Listener) error {
	if !l.track(func() { l.listeners[ln] = struct{}{} }) {
		ln.Close()
		return ErrClosed
	}
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		delete(l.listeners, ln)
		l.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if l.isClosed() {
				return ErrClosed
			}
			// Accept fails transiently when the process runs out of file
			// descriptors; pausing lets connections close instead of
			// spinning on the error.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.cfg.Logger.Warn("pegasus: accept failed; retrying", "listen", ln.Addr().String(), "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go l.ServeConn(nc)
	}
}

// ServeConn serves one connection until the peer closes it, it carries a
// malformed frame, or the Listener is closed; it then closes nc. It blocks
// until every request read from nc has been answered (or abandoned on
// Close).
func (l *Listener) ServeConn(nc net.Conn) {
	c := newServerConn(l, nc)
	if !l.track(func() { l.conns[c] = struct{}{} }) {
		nc.Close()
		return
	}
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}()
	c.serve()
}

// Close stops accepting, closes every connection, cancels the requests
// still executing and waits until every goroutine of the Listener has
// returned. It does not close the Handler.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for ln := range l.listeners {
		ln.Close()
	}
	for c := range l.conns {
		c.abort()
	}
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	return nil
}

// track registers a Serve loop or connection with add, unless the
// Listener is closed; it reports whether it did. A registered caller must
// call l.wg.Done when it returns.
func (l *Listener) track(add func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	add()
	l.wg.Add(1)
	return true
}

func (l *Listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
