package redisproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
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
	// MaxRequestBytes bounds what a connection may send beyond its last
	// complete pipeline: a command larger than that (or a client that never
	// completes one) gets a protocol error and its connection is closed,
	// so one client cannot make the proxy buffer without limit. Default
	// 64 MiB, the largest message the cluster's RPCs carry.
	MaxRequestBytes int
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
	if cfg.CommandTimeout < 0 || cfg.PipelineConcurrency < 0 || cfg.MaxRequestBytes < 0 {
		return cfg, fmt.Errorf("%w: negative CommandTimeout, PipelineConcurrency or MaxRequestBytes", ErrInvalidConfig)
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
	// every one of them has ended.
	conns sync.WaitGroup

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
	return &Server{cfg: cfg, backend: backend, started: time.Now(), drained: make(chan struct{})}, nil
}

// Serve accepts connections on ln until ctx is canceled, then shuts down
// cleanly: it stops accepting, lets every batch of commands already running
// finish and write its replies, closes all connections and returns nil.
// Commands that arrive after the shutdown began are not executed; their
// connection is closed without a reply. If ln fails otherwise, Serve closes
// all connections and returns the error. A Server serves once.
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
	// unknown outcome.
	base := context.WithoutCancel(ctx)
	rs := redcon.NewServerNetwork(ln.Addr().Network(), ln.Addr().String(),
		func(conn redcon.Conn, cmd redcon.Command) { s.serveBatch(base, conn, cmd) },
		s.accepted, s.closed)
	rs.AcceptError = func(err error) {
		s.cfg.Logger.Warn("redis proxy: accept failed", "err", err)
	}
	dl := &drainingListener{Listener: ln, s: s, maxRequestBytes: s.cfg.MaxRequestBytes}
	stop := context.AfterFunc(ctx, func() {
		s.beginShutdown()
		ln.Close()
	})
	defer stop()
	err := rs.Serve(dl)
	s.conns.Wait()
	if err == nil && ctx.Err() == nil {
		// redcon treats a closed listener as a normal end; it is one only
		// when we closed it.
		err = dl.lastErr
	}
	if err != nil {
		return fmt.Errorf("redisproxy: serving %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) accepted(conn redcon.Conn) bool {
	s.conns.Add(1)
	s.clients.Add(1)
	conn.SetContext(&connState{})
	return true
}

func (s *Server) closed(redcon.Conn, error) {
	s.clients.Add(-1)
	s.conns.Done()
}

func (s *Server) port() int { return int(s.listenPort.Load()) }

// connState is what the proxy keeps per connection: only a reply buffer
// reused from batch to batch. Nothing a command does depends on it.
type connState struct {
	out []byte
}

// maxKeptReplyBuffer is the largest reply buffer a connection keeps for its
// next batch; a larger one (a big MGET) is left to the garbage collector.
const maxKeptReplyBuffer = 64 << 10

// serveBatch runs one pipeline: cmd and every command redcon has already
// read behind it on the connection. All their replies go out in one write,
// in the order the commands came. redcon's own reply buffer stays empty; the
// proxy writes to the socket itself so that it knows when a batch's replies
// have left, which the shutdown handshake needs.
func (s *Server) serveBatch(ctx context.Context, conn redcon.Conn, cmd redcon.Command) {
	batch := append([]redcon.Command{cmd}, conn.ReadPipeline()...)
	nc := conn.NetConn()
	if lc, ok := nc.(*limitedConn); ok {
		lc.completed()
	}
	if !s.enter() {
		conn.Close()
		return
	}
	st := conn.Context().(*connState)
	out, closeAfter := s.runPipeline(ctx, batch, st.out[:0])
	// A client that stops reading must not hold a shutdown up forever.
	nc.SetWriteDeadline(time.Now().Add(s.cfg.CommandTimeout))
	_, err := nc.Write(out)
	s.leave()
	if cap(out) <= maxKeptReplyBuffer {
		st.out = out
	} else {
		st.out = nil
	}
	if closeAfter || err != nil {
		conn.Close()
	}
}

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
