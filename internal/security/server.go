package security

import (
	"crypto/tls"
	"log/slog"
	"math"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/netguard"
)

// MaxConcurrentStreams bounds the gRPC streams of one connection. A client
// multiplexes its operations over one stream per server and replicas one
// stream per peer, so this is far above what the cluster uses; it bounds
// what one connection can make a server hold.
const MaxConcurrentStreams = 1024

// Server is what a server's listeners and calls need from its security
// configuration. A nil *Server is a server without any: plaintext, no
// credential checks, netguard's default connection caps.
type Server struct {
	// TLS is the server's identity; nil for plaintext only.
	TLS *TLS
	// Require refuses plaintext connections.
	Require bool
	// Tokens are the admin tokens accepted; nil for none.
	Tokens *Tokens
	// Audit records admin actions; nil for none.
	Audit *Audit
	// MaxConns caps each listener's connections (0: netguard's default).
	MaxConns int
	// IdleTimeout closes silent raw-protocol connections and gRPC
	// connections without calls (0: never).
	IdleTimeout time.Duration
	Log         *slog.Logger
}

// NewServer reads the security keys of a role's configuration. audit is
// where the audit log goes when audit_log is empty ("" for none).
func NewServer(cfg config.Security, limits config.Limits, audit string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		Require:     cfg.TLSRequire,
		MaxConns:    limits.MaxConnections,
		IdleTimeout: time.Duration(limits.IdleTimeoutSeconds) * time.Second,
		Log:         log,
	}
	var err error
	if cfg.TLSConfigured() {
		if s.TLS, err = LoadTLS(Files{CA: cfg.TLSCAFile, Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile}, log); err != nil {
			return nil, err
		}
	}
	if cfg.AdminTokensFile != "" {
		if s.Tokens, err = LoadTokens(cfg.AdminTokensFile, log); err != nil {
			return nil, err
		}
	}
	if cfg.AuditLog != "" {
		audit = cfg.AuditLog
	}
	if audit != "" {
		if s.Audit, err = OpenAudit(audit); err != nil {
			return nil, err
		}
	} else {
		// A server without a data directory (the collector) records its
		// admin actions in its log.
		s.Audit = NewAudit(os.Stderr)
	}
	if s.TLS == nil && s.Tokens == nil {
		log.Warn("no TLS and no admin tokens configured: anyone who can connect may administer this server (see docs/security.md)")
	}
	return s, nil
}

// Close closes the audit log.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	return s.Audit.Close()
}

// Guard returns the netguard configuration of a listener named name.
// Raw protocols pass their idle timeout; gRPC and HTTP listeners pass 0
// (they have their own). nextProtos are the TLS application protocols.
func (s *Server) Guard(name string, idle time.Duration, nextProtos ...string) netguard.Config {
	cfg := netguard.Config{Name: name, IdleTimeout: idle}
	if s == nil {
		return cfg
	}
	cfg.MaxConns, cfg.Logger = s.MaxConns, s.Log
	if s.TLS != nil {
		cfg.TLS = s.TLS.ServerConfig(nextProtos...)
		cfg.RequireTLS = s.Require
	}
	return cfg
}

// Listen listens on addr with Guard's configuration.
func (s *Server) Listen(name, addr string, idle time.Duration, nextProtos ...string) (*netguard.Listener, error) {
	return netguard.Listen(addr, s.Guard(name, idle, nextProtos...))
}

// ListenGRPC listens for a gRPC server (ALPN h2).
func (s *Server) ListenGRPC(addr string) (*netguard.Listener, error) {
	return s.Listen("grpc", addr, 0, "h2")
}

// ListenHTTP listens for an HTTP server.
func (s *Server) ListenHTTP(name, addr string) (*netguard.Listener, error) {
	return s.Listen(name, addr, 0, "http/1.1")
}

// RawIdleTimeout is the idle timeout of the raw protocols.
func (s *Server) RawIdleTimeout() time.Duration {
	if s == nil {
		return netguard.DefaultIdleTimeout
	}
	return s.IdleTimeout
}

// Authorizer returns the authorizer of a server with policy (nil:
// DefaultPolicy).
func (s *Server) Authorizer(policy Policy) *Authorizer {
	if s == nil {
		return NewAuthorizer(AuthConfig{Policy: policy})
	}
	return NewAuthorizer(AuthConfig{TLS: s.TLS != nil, Tokens: s.Tokens, Audit: s.Audit, Policy: policy, Logger: s.Log})
}

// GRPCServerOptions are the options a gRPC server serving ListenGRPC's
// listener needs: the credentials that expose the peer's certificate, the
// authorizer's interceptors, the stream cap and the idle timeout.
func (s *Server) GRPCServerOptions(auth *Authorizer) []grpc.ServerOption {
	opts := append(auth.ServerOptions(),
		grpc.Creds(netguard.ServerCredentials()),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
	)
	idle := time.Duration(math.MaxInt64)
	if s != nil && s.IdleTimeout > 0 {
		idle = s.IdleTimeout
	}
	return append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idle}))
}

// ClientTLS is the TLS configuration the server dials others with; nil
// for plaintext.
func (s *Server) ClientTLS() *tls.Config {
	if s == nil || s.TLS == nil {
		return nil
	}
	return s.TLS.ClientConfig()
}
