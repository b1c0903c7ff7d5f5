package rolling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// ExecTemplates are the shell commands ExecControl runs, with placeholders
// replaced by shell-quoted values:
//
//	{node}        the server's address as the meta server knows it (host:port)
//	{host}        its host part
//	{port}        its port part
//	{role}        meta, replica or collector (the pegasus subcommand)
//	{binary}      the new binary (install only)
//	{config_dir}  the new configuration directory (install only)
//
// Stop and Start are required; Install is required to upgrade. Status is
// optional but strongly advised: it follows the LSB init-script convention
// that `systemctl is-active` and `service status` use, exit 0 for running
// and 1, 2 or 3 for not running; any other exit (an unreachable ssh host
// exits 255) is an error, not an answer. With a Status template, Stop and
// Start skip the command when the process is already in the wanted state
// and return only once Status confirms the new one; without it they trust
// the command's exit code, so the commands themselves must be idempotent
// and synchronous (`systemctl stop` and `systemctl start` are).
type ExecTemplates struct {
	Stop    string `json:"stop,omitempty"`
	Start   string `json:"start,omitempty"`
	Status  string `json:"status,omitempty"`
	Install string `json:"install,omitempty"`
}

// placeholder matches {word} in a template.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// validate checks that the required templates are present and that every
// placeholder is known where it is used.
func (t ExecTemplates) validate(needInstall bool) error {
	if strings.TrimSpace(t.Stop) == "" || strings.TrimSpace(t.Start) == "" {
		return fmt.Errorf("%w: exec control needs a stop and a start command", ErrInvalidControl)
	}
	if needInstall && strings.TrimSpace(t.Install) == "" {
		return fmt.Errorf("%w: an upgrade with exec control needs an install command", ErrInvalidControl)
	}
	check := func(name, tmpl string, install bool) error {
		for _, p := range placeholder.FindAllString(tmpl, -1) {
			switch p {
			case "{node}", "{host}", "{port}", "{role}":
			case "{binary}", "{config_dir}":
				if !install {
					return fmt.Errorf("%w: %s command uses %s, which only the install command has", ErrInvalidControl, name, p)
				}
			default:
				return fmt.Errorf("%w: %s command uses unknown placeholder %s", ErrInvalidControl, name, p)
			}
		}
		return nil
	}
	for _, c := range []struct {
		name, tmpl string
		install    bool
	}{{"stop", t.Stop, false}, {"start", t.Start, false}, {"status", t.Status, false}, {"install", t.Install, true}} {
		if err := check(c.name, c.tmpl, c.install); err != nil {
			return err
		}
	}
	return nil
}

// ExecControl is node control through operator-supplied shell commands:
// systemd units over ssh, an init script, a deployment tool.
type ExecControl struct {
	templates ExecTemplates
	// poll is how often Stop and Start re-run the status command while
	// waiting for the process to change state.
	poll time.Duration
}

// NewExecControl checks the templates and returns the control. needInstall
// says whether the roll installs a new binary or configuration.
func NewExecControl(t ExecTemplates, needInstall bool) (*ExecControl, error) {
	if err := t.validate(needInstall); err != nil {
		return nil, err
	}
	return &ExecControl{templates: t, poll: 500 * time.Millisecond}, nil
}

// Status runs the status template.
func (c *ExecControl) Status(ctx context.Context, t Target) (ProcessState, error) {
	if c.templates.Status == "" {
		return "", fmt.Errorf("%w: no status command", ErrInvalidControl)
	}
	out, err := runShell(ctx, expand(c.templates.Status, t, Artifacts{}))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return ProcessRunning, nil
	case errors.As(err, &exit) && exit.ExitCode() >= 1 && exit.ExitCode() <= 3:
		return ProcessStopped, nil
	}
	return "", commandError("status", t, err, out)
}

// Stop runs the stop template unless the process is already stopped, and
// waits for the status template to confirm.
func (c *ExecControl) Stop(ctx context.Context, t Target) error {
	return c.transition(ctx, t, "stop", c.templates.Stop, ProcessStopped, ErrStillRunning)
}

// Start runs the start template unless the process already runs, and waits
// for the status template to confirm.
func (c *ExecControl) Start(ctx context.Context, t Target) error {
	return c.transition(ctx, t, "start", c.templates.Start, ProcessRunning, ErrNotStarted)
}

func (c *ExecControl) transition(ctx context.Context, t Target, name, tmpl string, want ProcessState, notYet error) error {
	if c.templates.Status == "" {
		if out, err := runShell(ctx, expand(tmpl, t, Artifacts{})); err != nil {
			return commandError(name, t, err, out)
		}
		return nil
	}
	if st, err := c.Status(ctx, t); err == nil && st == want {
		return nil // already there: the repeat of a command that ran
	}
	if out, err := runShell(ctx, expand(tmpl, t, Artifacts{})); err != nil {
		return commandError(name, t, err, out)
	}
	var last error
	for {
		st, err := c.Status(ctx, t)
		if err == nil && st == want {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w: %s after %s: %w", notYet, t, name, last)
			}
			return fmt.Errorf("%w: %s after %s (%w)", notYet, t, name, ctx.Err())
		case <-time.After(c.poll):
		}
	}
}

// Install runs the install template.
func (c *ExecControl) Install(ctx context.Context, t Target, a Artifacts) error {
	if c.templates.Install == "" {
		return fmt.Errorf("%w: no install command", ErrInvalidControl)
	}
	if out, err := runShell(ctx, expand(c.templates.Install, t, a)); err != nil {
		return commandError("install", t, err, out)
	}
	return nil
}

// expand replaces the placeholders with shell-quoted values, so an address
// or a path can never inject a command.
func expand(tmpl string, t Target, a Artifacts) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(p string) string {
		switch p {
		case "{node}":
			return shellQuote(t.Node)
		case "{host}":
			return shellQuote(t.Host())
		case "{port}":
			return shellQuote(t.Port())
		case "{role}":
			return shellQuote(roleCommand(t.Role))
		case "{binary}":
			return shellQuote(a.Binary)
		case "{config_dir}":
			return shellQuote(a.ConfigDir)
		}
		return p
	})
}

// roleCommand is the pegasus subcommand that runs a role, the name unit
// files and scripts are usually keyed by.
func roleCommand(r plan.Role) string {
	switch r {
	case plan.RoleMeta:
		return "meta"
	case plan.RoleReplica:
		return "replica"
	case plan.RoleCollector:
		return "collector"
	}
	return string(r)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// maxCommandOutput bounds the output kept from a command: its tail is
// quoted in the error.
const maxCommandOutput = 2048

// runShell runs cmd with /bin/sh in its own process group, so a deadline
// kills everything it started, and returns the tail of its output.
func runShell(ctx context.Context, cmd string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	// A start command that leaves a daemon behind may leave it holding the
	// output pipe; the command itself has exited by then.
	c.WaitDelay = time.Second
	var out tailBuffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return strings.TrimSpace(out.String()), err
}

func commandError(name string, t Target, err error, out string) error {
	if out != "" {
		return fmt.Errorf("%w: %s %s: %w: %s", ErrCommandFailed, name, t, err, out)
	}
	return fmt.Errorf("%w: %s %s: %w", ErrCommandFailed, name, t, err)
}

// tailBuffer keeps the last maxCommandOutput bytes written to it.
type tailBuffer struct{ b bytes.Buffer }

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.b.Write(p)
	if extra := w.b.Len() - maxCommandOutput; extra > 0 {
		w.b.Next(extra)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string { return w.b.String() }
