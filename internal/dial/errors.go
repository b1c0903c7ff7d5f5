package dial

import "errors"

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrUnreachable: no server of those tried accepted a connection or
	// answered the call in time.
	ErrUnreachable = errors.New("dial: server unreachable")
	// ErrNoLeader: meta servers answered, but each one forwarded the call
	// elsewhere and none of those served it (an election in progress, or
	// a leader that is itself unreachable).
	ErrNoLeader = errors.New("dial: no meta server leader")
	// ErrIncompatible: the server refused the call because it speaks
	// another protocol version or does not offer the service. Retrying
	// elsewhere does not help.
	ErrIncompatible = errors.New("dial: incompatible server")
	// ErrDenied: the server refused the caller's credentials (no admin
	// token or certificate for an admin call, or an identity that may not
	// make it). Retrying elsewhere does not help.
	ErrDenied = errors.New("dial: permission denied")
	// ErrClosed: the Conns was closed.
	ErrClosed = errors.New("dial: closed")
)
