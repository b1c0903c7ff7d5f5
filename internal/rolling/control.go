package rolling

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Target names one server process: its role and its address, as the plan
// lists it (the address the meta server knows it by).
type Target struct {
	Role plan.Role
	Node string
}

func (t Target) String() string { return fmt.Sprintf("%s %s", t.Role, t.Node) }

// Host is the host part of the address, or the whole address when it has
// no port.
func (t Target) Host() string {
	if h, _, err := net.SplitHostPort(t.Node); err == nil {
		return h
	}
	return t.Node
}

// Port is the port part of the address, or "".
func (t Target) Port() string {
	if _, p, err := net.SplitHostPort(t.Node); err == nil {
		return p
	}
	return ""
}

// Artifacts is what an install step puts on a node: a new server binary,
// a new configuration directory, or both. Empty fields keep what the node
// has.
type Artifacts struct {
	Binary    string `json:"binary,omitempty"`
	ConfigDir string `json:"config_dir,omitempty"`
}

// Empty reports whether there is nothing to install.
func (a Artifacts) Empty() bool { return a.Binary == "" && a.ConfigDir == "" }

// NodeControl starts and stops server processes and installs new binaries.
//
// The plan machine completes a stop or a start step on the command's
// acknowledgement alone, and re-issues any command after an orchestrator
// crash, so every method must be idempotent and confirm before returning:
//
//   - Stop returns nil once the process is not running, including when it
//     was not running to begin with.
//   - Start returns nil once the process runs, including when it already
//     did. "Runs" means the process is up, not that it serves: the plan's
//     next step waits for that.
//   - Install replaces the node's binary and configuration so that the
//     next Start uses them. A repeat must be harmless.
//
// Every method honours ctx's deadline: the orchestrator gives each call
// what is left of its step's timeout.
type NodeControl interface {
	Stop(ctx context.Context, t Target) error
	Start(ctx context.Context, t Target) error
	// Status reports whether the process runs.
	Status(ctx context.Context, t Target) (ProcessState, error)
	Install(ctx context.Context, t Target, a Artifacts) error
}

// ProcessState is what node control knows of a server process.
type ProcessState string

const (
	ProcessRunning ProcessState = "running"
	ProcessStopped ProcessState = "stopped"
)

// VersionReporter is implemented by node controls that know which protocol
// version a node's binary speaks without asking the node. Planning an
// upgrade uses it for servers that do not report their version over the
// network (the collector).
type VersionReporter interface {
	Version(ctx context.Context, t Target) (string, error)
}

// ArtifactsReporter is implemented by node controls that know which
// binary each node runs, so that a rollback can put it back without the
// operator naming it.
type ArtifactsReporter interface {
	Current(ctx context.Context, t Target) (Artifacts, error)
}

// NewControl builds the node control an operator names: "onebox:<dir>"
// drives the onebox in dir, "exec" runs the templates. install is what the
// roll installs, checked here so that a roll cannot fail half-way on an
// install the control cannot do. The returned close function releases
// what the control holds.
func NewControl(spec string, templates ExecTemplates, install Artifacts) (NodeControl, func() error, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "onebox":
		if arg == "" {
			return nil, nil, fmt.Errorf("%w: onebox control needs a directory (onebox:<dir>)", ErrInvalidControl)
		}
		if install.ConfigDir != "" {
			return nil, nil, fmt.Errorf("%w: onebox control installs binaries only, not a configuration directory", ErrInvalidControl)
		}
		c, err := NewOneboxControl(arg)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	case "exec":
		c, err := NewExecControl(templates, !install.Empty())
		if err != nil {
			return nil, nil, err
		}
		return c, func() error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("%w: %q (want onebox:<dir> or exec)", ErrInvalidControl, spec)
}
