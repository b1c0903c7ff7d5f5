package oneboxcluster

import "errors"

var (
	// ErrNotHealthy: a process of the onebox is not running, so the
	// cluster cannot become fully healthy without help.
	ErrNotHealthy = errors.New("oneboxcluster: process not running")
	// ErrUnknownNode: no process of the onebox has that name or address.
	ErrUnknownNode = errors.New("oneboxcluster: unknown node")
	// ErrAdmin: a meta server admin call failed or answered an error.
	ErrAdmin = errors.New("oneboxcluster: admin call failed")
	// ErrRollingUpdate: `pegasus rolling-update` exited with an error.
	ErrRollingUpdate = errors.New("oneboxcluster: rolling update failed")
)
