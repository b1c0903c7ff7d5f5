package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/shell"
)

func TestExitCodeOfErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{fmt.Errorf("x"), exitError},
		{fmt.Errorf("wrapped: %w", shell.ErrUsage), exitUsage},
		{shell.ErrUnknownCommand, exitUsage},
		{config.ErrInvalid, exitUsage},
		{onebox.ErrNoOnebox, exitUsage},
		{fmt.Errorf("%w: 127.0.0.1:1", shell.ErrMetaUnreachable), exitUnreachable},
		{fmt.Errorf("connecting: %w", client.ErrUnavailable), exitUnreachable},
		{&shell.PipeError{First: shell.ErrMetaUnreachable, Failed: 2, Ran: 3}, exitUnreachable},
		{checkSafety(1, bench.VerdictOK), exitCheckFailed},
		{checkFailedError{"down"}, exitCheckFailed},
		{context.Canceled, exitInterrupted},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// cobra's own argument and flag errors are usage errors, on every command.
func TestCobraErrorsAreUsage(t *testing.T) {
	markUsageErrors(root)
	for _, args := range [][]string{
		{"version", "--bogus"},
		{"version", "extra"},
		{"onebox", "status", "--dir", t.TempDir()}, // no onebox there
		{"shell", "--onebox", t.TempDir(), "-e", "nodes"},
		{"rolling-update", "status", "--onebox", t.TempDir()},
		{"rolling-update", "status", "--onebox", "a", "--control", "onebox:b"},
		{"frobnicate"},
	} {
		var out bytes.Buffer
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.ExecuteContext(context.Background())
		if got := exitCode(err); got != exitUsage {
			t.Errorf("pegasus %q: %v -> exit %d, want %d", args, err, got, exitUsage)
		}
	}
}
