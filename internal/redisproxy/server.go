package redisproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/redcon"

	"github.com/pegasus-go/pegasus/internal/netguard"
)

// Config adjusts a Server. The zero value serves with the defaults noted
// beside each field.
type Config struct {
	// Table and MetaServers name the cluster behind the proxy; INFO reports
	// them.
	Table       string
	MetaServers []string
	// CommandTimeout bounds each command, including every backend call a
	// multi-key command fans out to. Default 5 s.
	CommandTimeout time.Duration
	// PipelineConcurrency is how many commands of one connection's pipeline
	// may run at the same time; commands sharing a key always run in the
	// order they were sent. 1 runs a pipeline one command at a time.
	// Default 16. Measured with redis-benchmark -P 16 on two cores over a
	// store answering in about a millisecond, 16 served 3.3 times the
	// commands 1 did; over a store answering at once, 1 was about a third
	// faster (a goroutine per command is then the main cost). A Pegasus
	// round trip is the first case.
	PipelineConcurrency int
	// MaxRequestBytes bounds one command: a command announcing more (its
	// lengths are checked as they are read, before its arguments are
	// buffered) gets a protocol error and its connection is closed, so one
	// client cannot make the proxy buffer without limit. Default 64 MiB,
	// the largest message the cluster's RPCs carry.
	MaxRequestBytes int
	// MaxBufferedBytes caps the request bytes the proxy buffers at once
	// across all its connections (internal/netguard's Budget): a
	// connection whose command needs more waits until others are done.
	// Default 256 MiB.
	MaxBufferedBytes int64
	// Password, when set, is required (AUTH password, AUTH default
	// password, or HELLO's AUTH option) before any other command; until
	// then every command but AUTH, HELLO and QUIT is answered NOAUTH, as
	// Redis does with requirepass.
	Password string
	// Logger receives connection-level events (accept failures). Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults applied by New to zero Config fields.
const (
	DefaultCommandTimeout      = 5 * time.Second
	DefaultPipelineConcurrency = 16
	DefaultMaxRequestBytes     = 64 << 20
)

func (cfg Config) withDefaults() (Config, error) {
	if cfg.CommandTimeout < 0 || cfg.PipelineConcurrency < 0 || cfg.MaxRequestBytes < 0 || cfg.MaxBufferedBytes < 0 {
		return cfg, fmt.Errorf("%w: negative CommandTimeout, PipelineConcurrency, MaxRequestBytes or MaxBufferedBytes", ErrInvalidConfig)
	}
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.PipelineConcurrency == 0 {
		cfg.PipelineConcurrency = DefaultPipelineConcurrency
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxBufferedBytes == 0 {
		cfg.MaxBufferedBytes = netguard.DefaultBudgetBytes
	}
	if int64(cfg.MaxRequestBytes) > cfg.MaxBufferedBytes {
		return cfg, fmt.Errorf("%w: MaxRequestBytes %d above MaxBufferedBytes %d", ErrInvalidConfig, cfg.MaxRequestBytes, cfg.MaxBufferedBytes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// Server serves the Redis protocol (RESP2) over a Backend. It keeps no
// state of its own between commands, so any number of servers can stand
// behind a load balancer in front of one cluster.
type Server struct {
	cfg     Config
	backend Backend
	started time.Time

	// clients counts open connections, for INFO.
	clients atomic.Int64
	// listenPort is the TCP port being served, for INFO.
	listenPort atomic.Int32
	// conns tracks connection goroutines so that Serve returns only after
	// every one of them has ended; open holds their connections, closed
	// at the end of a shutdown.
	conns sync.WaitGroup
	open  map[net.Conn]struct{}
	// budget caps the request bytes buffered across all connections.
	budget *netguard.Budget

	// mu guards the shutdown handshake: once closing is set no batch of
	// commands starts, and drained is closed when the last running batch
	// has written its replies.
	mu       sync.Mutex
	serving  bool
	closing  bool
	inflight int
	drained  chan struct{}
}

// New returns a Server that executes commands against backend.
func New(backend Backend, cfg Config) (*Server, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: nil Backend", ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, backend: backend, started: time.Now(), drained: make(chan struct{}),
		open: make(map[net.Conn]struct{}), budget: netguard.NewBudget(cfg.MaxBufferedBytes),
	}, nil
}

// Serve accepts connections on ln until ctx is canceled, then shuts down
// cleanly: it stops accepting, lets every batch of commands already running
// finish and write its replies, closes all connections and returns nil.
// Commands that arrive after the shutdown began are not executed; their
// connection is closed without a reply. If ln fails otherwise, Serve closes
// all connections and returns the error. A Server serves once.
//
// Serve enforces no connection cap or idle timeout itself: wrap ln with
// internal/netguard for those (cmd/pegasus does).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	s.serving = true
	s.mu.Unlock()
	if addr, ok := ln.Addr().(*net.TCPAddr); ok {
		s.listenPort.Store(int32(addr.Port))
	}

	// Commands run under a context that shutdown does not cancel: a command
	// in flight is finished (within its own timeout), not abandoned with an
	// unknown outcome. Waiting for request memory ends with Serve.
	base := context.WithoutCancel(ctx)
	life, endLife := context.WithCancel(base)
	defer endLife()
	stop := context.AfterFunc(ctx, func() {
		s.beginShutdown()
		ln.Close()
	})
	defer stop()
	var err error
	var backoff time.Duration
	for {
		nc, aerr := ln.Accept()
		if aerr == nil {
			backoff = 0
			if !s.track(nc) {
				nc.Close()
				continue
			}
			go s.serveConn(base, life, nc)
			continue
		}
		if s.isClosing() {
			break
		}
		if errors.Is(aerr, syscall.EMFILE) || errors.Is(aerr, syscall.ENFILE) {
			// Out of descriptors: pause rather than spin, as net/http does.
			s.cfg.Logger.Warn("redis proxy: accept failed", "err", aerr)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		err = aerr
		s.beginShutdown()
		break
	}
	// Let the batches already running deliver their replies, then close
	// every connection.
	<-s.drained
	endLife()
	s.closeConns()
	s.conns.Wait()
	if err != nil {
		return fmt.Errorf("redisproxy: serving %s: %w", ln.Addr(), err)
	}
	return nil
}

// track registers a connection; false once shutdown began.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.open[nc] = struct{}{}
	s.conns.Add(1)
	s.clients.Add(1)
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.open, nc)
	s.mu.Unlock()
	s.clients.Add(-1)
	s.conns.Done()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for nc := range s.open {
		nc.Close()
	}
}

func (s *Server) port() int { return int(s.listenPort.Load()) }

// connState is what the proxy keeps per connection: whether it
// authenticated (with Config.Password set) and a reply buffer reused from
// batch to batch. Nothing a data command does depends on it.
type connState struct {
	authed bool
	out    []byte
}

// maxKeptReplyBuffer is the largest reply buffer a connection keeps for its
// next batch; a larger one (a big MGET) is left to the garbage collector.
const maxKeptReplyBuffer = 64 << 10

// serveConn reads and runs the pipelines of one connection. A panic while
// serving it ends this connection only.
func (s *Server) serveConn(ctx, life context.Context, nc net.Conn) {
	defer s.untrack(nc)
	defer nc.Close()
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("redis proxy: connection failed", "remote", nc.RemoteAddr().String(),
				"panic", p, "stack", string(debug.Stack()))
		}
	}()
	rd := newRespReader(life, nc, s.cfg.MaxRequestBytes, s.budget)
	defer rd.close()
	st := &connState{authed: s.cfg.Password == ""}
	for {
		batch, err := rd.readBatch()
		if err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				s.refuseConn(nc, pe)
			}
			return
		}
		if !s.serveBatch(ctx, nc, st, batch) {
			return
		}
	}
}

// serveBatch runs one pipeline: all its replies go out in one write, in
// the order the commands came. It reports whether the connection stays
// open.
func (s *Server) serveBatch(ctx context.Context, nc net.Conn, st *connState, batch []request) bool {
	if !s.enter() {
		return false
	}
	out, closeAfter := s.runPipeline(ctx, st, batch, st.out[:0])
	// A client that stops reading must not hold a shutdown up forever.
	nc.SetWriteDeadline(time.Now().Add(s.cfg.CommandTimeout))
	_, err := nc.Write(out)
	s.leave()
	if cap(out) <= maxKeptReplyBuffer {
		st.out = out
	} else {
		st.out = nil
	}
	return !closeAfter && err == nil && !s.isClosing()
}

// refuseConn answers a request that broke the protocol, then closes the
// connection gently: the write side first, then what the client still
// sends is read and dropped for a moment, so that the reply is not lost to
// a reset caused by unread input.
func (s *Server) refuseConn(nc net.Conn, pe *protocolError) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := nc.Write(redcon.AppendError(nil, pe.Error())); err != nil {
		return
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, nc, lingerBytes)
}

// lingerBytes bounds what refuseConn reads after a protocol error.
const lingerBytes = 1 << 20

// enter registers a running batch; it returns false once shutdown began.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight++
	return true
}

// leave ends a batch registered by enter.
func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.closing && s.inflight == 0 {
		close(s.drained)
	}
}

// beginShutdown stops new batches from starting.
func (s *Server) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.closing = true
	if s.inflight == 0 {
		close(s.drained)
	}
}

// isClosing reports whether shutdown began; a running pipeline checks it
// before each command it has not started yet.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}
