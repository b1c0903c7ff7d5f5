package scenario

import "errors"

var (
	// ErrUnknownScenario: no scenario has the name asked for.
	ErrUnknownScenario = errors.New("scenario: unknown scenario")
	// ErrUnsupported: the cluster lacks a capability the scenario needs
	// (freezing a process, finding a leader or a primary, rolling
	// updates).
	ErrUnsupported = errors.New("scenario: cluster does not support this scenario")
	// ErrNotHealthy: the cluster did not become fully healthy in time,
	// before the load or after the event.
	ErrNotHealthy = errors.New("scenario: cluster not fully healthy")
	// ErrEvent: the event itself failed (a node could not be killed,
	// restarted or rolled). The report is still produced.
	ErrEvent = errors.New("scenario: event failed")
	// ErrNoNode: the cluster has no node of the role the scenario acts on.
	ErrNoNode = errors.New("scenario: no node to act on")
)
