package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc"
)

// Config says how a Client reaches a cluster and how patiently it retries.
// Only MetaServers is required; every zero field takes the default noted
// beside it.
type Config struct {
	// MetaServers lists the meta servers as host:port. Any one of them is
	// enough to find the rest of the cluster; listing all of them lets the
	// client survive the loss of any one.
	MetaServers []string

	// OperationTimeout bounds an operation, retries included, when the
	// caller's context carries no deadline of its own. Default 5 s; at most
	// MaxWriteRetryWindow.
	OperationTimeout time.Duration

	// AttemptTimeout bounds the first attempt at a server; each further
	// attempt at the same server without an answer gets twice as long. A
	// primary cut off from the network answers nothing and keeps its
	// connection open, so without this bound every operation would wait on
	// it until its own deadline, and so would the next one; after it, the
	// client asks the meta server for the primary again and retries (a
	// write with the same request id, so that it applies at most once).
	// Never beyond the operation's deadline. Default 1 s.
	AttemptTimeout time.Duration

	// DialTimeout bounds one connection attempt to a server, and how long New
	// waits for the first meta server to accept a connection. Default 3 s.
	DialTimeout time.Duration

	// Dialer, when set, opens every connection to a server (meta or
	// replica) in place of a plain TCP dial: a client that must reach the
	// cluster from another network namespace, or through a proxy. nil
	// dials TCP.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)

	// RoutingBackoff paces retries after the client found its routing stale
	// (the replica it asked is no longer the primary, or is unreachable) and
	// asked the meta server for the partition configuration again.
	// Default {Base: 5 ms, Cap: 200 ms, Jitter: 0.5}.
	RoutingBackoff Backoff

	// TLS, when set, connects to every server over mutual TLS: it carries
	// the client's certificate and the certificate authority that signs
	// the servers' (LoadTLS builds one from PEM files and reloads them
	// when they change). A cluster started with tls_require refuses
	// clients without it. Default: plaintext.
	TLS *tls.Config

	// BusyBackoff paces retries of a primary that refused a request for now
	// (ERR_BUSY, ERR_CAPACITY_EXCEEDED, ERR_NOT_ENOUGH_MEMBER, ERR_TIMEOUT);
	// the routing is right, so the meta server is not asked.
	// Default {Base: 10 ms, Cap: 500 ms, Jitter: 0.5}.
	BusyBackoff Backoff
}

// MaxWriteRetryWindow bounds how long one write is retried, counted from
// its start, whatever deadline its context carries: replica servers keep
// the record that makes a retry exactly-once at least this long (plus an
// allowance for clock differences; their write_dedup_retention_seconds is
// refused below that), so no retry this client sends can run a write twice.
// A write still unanswered then ends with ErrTimeout, and ErrUnknownOutcome
// if an attempt reached a server.
const MaxWriteRetryWindow = rpc.MaxWriteRetryWindow

// writeRetryWindow is MaxWriteRetryWindow; tests shorten it.
var writeRetryWindow = MaxWriteRetryWindow

// Defaults applied by New to zero Config fields.
const (
	DefaultOperationTimeout = 5 * time.Second
	DefaultAttemptTimeout   = time.Second
	DefaultDialTimeout      = 3 * time.Second
)

var (
	defaultRoutingBackoff = Backoff{Base: 5 * time.Millisecond, Cap: 200 * time.Millisecond, Jitter: 0.5}
	defaultBusyBackoff    = Backoff{Base: 10 * time.Millisecond, Cap: 500 * time.Millisecond, Jitter: 0.5}
)

// withDefaults returns cfg with zero fields defaulted, or an error wrapping
// ErrInvalidArgument naming the first bad field.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.MetaServers) == 0 {
		return cfg, fmt.Errorf("%w: Config.MetaServers is empty", ErrInvalidArgument)
	}
	seen := make(map[string]bool, len(cfg.MetaServers))
	metas := make([]string, 0, len(cfg.MetaServers))
	for _, addr := range cfg.MetaServers {
		if addr == "" {
			return cfg, fmt.Errorf("%w: Config.MetaServers has an empty address", ErrInvalidArgument)
		}
		if !seen[addr] {
			seen[addr] = true
			metas = append(metas, addr)
		}
	}
	cfg.MetaServers = metas
	if cfg.OperationTimeout < 0 || cfg.DialTimeout < 0 || cfg.AttemptTimeout < 0 {
		return cfg, fmt.Errorf("%w: negative timeout in Config", ErrInvalidArgument)
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = DefaultOperationTimeout
	}
	if cfg.OperationTimeout > MaxWriteRetryWindow {
		return cfg, fmt.Errorf("%w: Config.OperationTimeout %v exceeds MaxWriteRetryWindow %v, the longest a write may be retried",
			ErrInvalidArgument, cfg.OperationTimeout, MaxWriteRetryWindow)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	var err error
	if cfg.RoutingBackoff, err = cfg.RoutingBackoff.orDefault(defaultRoutingBackoff, "RoutingBackoff"); err != nil {
		return cfg, err
	}
	if cfg.BusyBackoff, err = cfg.BusyBackoff.orDefault(defaultBusyBackoff, "BusyBackoff"); err != nil {
		return cfg, err
	}
	return cfg, nil
}
