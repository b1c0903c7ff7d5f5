package pegasusserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/netguard"
)

// Server is a running Pegasus-protocol listener: a Listener serving a
// handler on a TCP port. StartReplicaListener and StartMetaListener return
// one as their io.Closer.
type Server struct {
	ln       net.Listener
	listener *Listener
	handler  io.Closer

	closeOnce sync.Once
	served    chan struct{}

	mu      sync.Mutex
	stopCtx func() bool // unregisters the close-on-cancel hook
}

// StartOptions configure a listener started by StartReplicaListener or
// StartMetaListener. The zero value listens in plaintext with netguard's
// default connection cap and the Listener's defaults.
type StartOptions struct {
	// Guard is what the port enforces before the protocol starts:
	// connection cap, idle timeout, TLS.
	Guard netguard.Config
	// Config tunes the protocol: the frame limit, the request-byte budget.
	Config Config
	// Credentials reach the local server's gRPC service.
	Credentials dial.Credentials
}

// StartReplicaListener serves Pegasus clients on listenAddr, translating
// their requests to the replica server whose gRPC service listens at
// grpcAddr. It returns once the port is bound; the listener stops when ctx
// ends or the returned Closer is closed.
func StartReplicaListener(ctx context.Context, listenAddr, grpcAddr string, opts StartOptions) (io.Closer, error) {
	ln, err := listen(listenAddr, opts)
	if err != nil {
		return nil, err
	}
	h, err := NewReplicaHandler(grpcAddr, ReplicaOptions{ServerAddress: ln.Addr().String(), Credentials: opts.Credentials})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return startServer(ctx, ln, h, h, opts.Config), nil
}

// StartMetaListener serves Pegasus clients' configuration queries on
// listenAddr, answering them from the meta server whose gRPC service
// listens at grpcAddr. It returns once the port is bound; the listener
// stops when ctx ends or the returned Closer is closed.
func StartMetaListener(ctx context.Context, listenAddr, grpcAddr string, opts StartOptions) (io.Closer, error) {
	ln, err := listen(listenAddr, opts)
	if err != nil {
		return nil, err
	}
	h, err := NewMetaHandler(grpcAddr, MetaOptions{Credentials: opts.Credentials})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return startServer(ctx, ln, h, h, opts.Config), nil
}

func listen(addr string, opts StartOptions) (net.Listener, error) {
	if opts.Guard.Name == "" {
		opts.Guard.Name = "pegasus"
	}
	ln, err := netguard.Listen(addr, opts.Guard)
	if err != nil {
		return nil, fmt.Errorf("pegasusserve: listen %s: %w", addr, err)
	}
	return ln, nil
}

func startServer(ctx context.Context, ln net.Listener, h Handler, closer io.Closer, cfg Config) *Server {
	s := &Server{ln: ln, listener: NewListener(h, cfg), handler: closer, served: make(chan struct{})}
	go func() {
		defer close(s.served)
		if err := s.listener.Serve(ln); err != nil && !errors.Is(err, ErrClosed) {
			s.listener.cfg.Logger.Error("pegasus: listener stopped", "listen", ln.Addr().String(), "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	s.mu.Lock()
	s.stopCtx = stop
	s.mu.Unlock()
	return s
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and the handler, and
// waits for the listener's goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if s.stopCtx != nil {
			s.stopCtx()
		}
		s.mu.Unlock()
		s.listener.Close()
		<-s.served
		s.handler.Close()
	})
	return nil
}
