package onebox

import "errors"

// Sentinel errors; every error of the package wraps one of them (or a
// context error).
var (
	// ErrNoOnebox: the directory holds no onebox (no onebox.json).
	ErrNoOnebox = errors.New("onebox: no onebox in directory")
	// ErrBadState: onebox.json cannot be read or describes an impossible
	// cluster.
	ErrBadState = errors.New("onebox: bad state file")
	// ErrLayoutMismatch: Start was asked for a different cluster than the
	// one the directory already holds.
	ErrLayoutMismatch = errors.New("onebox: directory holds a different cluster")
	// ErrUnknownNode: no process of the onebox matches the name or address.
	ErrUnknownNode = errors.New("onebox: unknown node")
	// ErrExited: a process exited while the onebox waited for it to serve.
	ErrExited = errors.New("onebox: process exited")
	// ErrNotReady: a process or the cluster did not become ready in time.
	ErrNotReady = errors.New("onebox: not ready")
	// ErrStuck: a process survived SIGKILL.
	ErrStuck = errors.New("onebox: process does not die")
	// ErrBinary: the pegasus binary to run cannot be used.
	ErrBinary = errors.New("onebox: bad binary")
)

// ErrNetNSUnavailable: the netns network mode cannot be used here (not
// Linux, not root, no iproute2, or `ip netns` fails), or a network-only
// operation was asked of a loopback onebox.
var ErrNetNSUnavailable = errors.New("onebox: network namespaces unavailable")
