package adminrpc

import "errors"

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrUnreachable: no server of those tried accepted a connection or
	// answered the call in time.
	ErrUnreachable = errors.New("adminrpc: server unreachable")
	// ErrNoLeader: meta servers answered, but each one forwarded the call
	// elsewhere and none of those served it (an election in progress, or
	// a leader that is itself unreachable).
	ErrNoLeader = errors.New("adminrpc: no meta server leader")
	// ErrIncompatible: the server refused the call because it speaks
	// another protocol version or does not offer the service. Retrying
	// elsewhere does not help.
	ErrIncompatible = errors.New("adminrpc: incompatible server")
	// ErrClosed: the Conns was closed.
	ErrClosed = errors.New("adminrpc: closed")
)
