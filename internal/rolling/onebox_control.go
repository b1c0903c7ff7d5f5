package rolling

import (
	"context"
	"errors"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/onebox"
)

// OneboxControl is node control of a local cluster supervised by
// internal/onebox. Nodes are found by the address the meta server knows
// them by (the collector by its HTTP address).
type OneboxControl struct {
	c *onebox.Cluster
}

// NewOneboxControl opens the onebox in dir.
func NewOneboxControl(dir string) (*OneboxControl, error) {
	c, err := onebox.Open(dir, onebox.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidControl, err)
	}
	return &OneboxControl{c: c}, nil
}

// Close releases the onebox's connections; its processes keep running.
func (o *OneboxControl) Close() error { return o.c.Close() }

// Stop implements NodeControl: SIGTERM, then SIGKILL after the onebox's
// stop timeout; a process not running is left alone.
func (o *OneboxControl) Stop(ctx context.Context, t Target) error {
	return o.wrap(t, runBounded(ctx, func() error { return o.c.Stop(t.Node) }))
}

// Start implements NodeControl. The onebox returns only once the process
// serves (a replica server once the meta leader lists it alive), a
// stronger confirmation than the plan needs.
func (o *OneboxControl) Start(ctx context.Context, t Target) error {
	return o.wrap(t, o.c.StartNode(ctx, t.Node))
}

// Status implements NodeControl.
func (o *OneboxControl) Status(ctx context.Context, t Target) (ProcessState, error) {
	procs, err := o.c.Status()
	if err != nil {
		return "", o.wrap(t, err)
	}
	for _, p := range procs {
		if p.Address == t.Node || p.HTTPAddress == t.Node || p.Name == t.Node {
			if p.Alive {
				return ProcessRunning, nil
			}
			return ProcessStopped, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownNode, t)
}

// Version implements VersionReporter: the protocol version of the binary
// the onebox runs the node with.
func (o *OneboxControl) Version(ctx context.Context, t Target) (string, error) {
	procs, err := o.c.Status()
	if err != nil {
		return "", o.wrap(t, err)
	}
	for _, p := range procs {
		if p.Address == t.Node || p.HTTPAddress == t.Node || p.Name == t.Node {
			return BinaryVersion(ctx, p.Binary)
		}
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownNode, t)
}

// Current implements ArtifactsReporter: the binary the onebox runs the
// node with.
func (o *OneboxControl) Current(ctx context.Context, t Target) (Artifacts, error) {
	procs, err := o.c.Status()
	if err != nil {
		return Artifacts{}, o.wrap(t, err)
	}
	for _, p := range procs {
		if p.Address == t.Node || p.HTTPAddress == t.Node || p.Name == t.Node {
			return Artifacts{Binary: p.Binary}, nil
		}
	}
	return Artifacts{}, fmt.Errorf("%w: %s", ErrUnknownNode, t)
}

// Install implements NodeControl: the process runs the new binary from its
// next start. A onebox writes each process's configuration when it is
// created, so only binaries can be installed.
func (o *OneboxControl) Install(ctx context.Context, t Target, a Artifacts) error {
	if a.ConfigDir != "" {
		return fmt.Errorf("%w: onebox control installs binaries only, not %s", ErrInvalidControl, a.ConfigDir)
	}
	if a.Binary == "" {
		return nil
	}
	return o.wrap(t, o.c.SetBinary(t.Node, a.Binary))
}

func (o *OneboxControl) wrap(t Target, err error) error {
	if errors.Is(err, onebox.ErrUnknownNode) {
		return fmt.Errorf("%w: %s: %w", ErrUnknownNode, t, err)
	}
	return err
}

// runBounded runs f, which takes no context, and returns its error or
// ctx's, whichever comes first. f keeps running in the background after
// ctx ends; its result is then dropped, which is safe because every node
// control operation is idempotent and the machine re-issues it.
func runBounded(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
