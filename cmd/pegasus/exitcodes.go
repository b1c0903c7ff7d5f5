package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rolling"
	"github.com/pegasus-go/pegasus/internal/shell"
)

// The exit statuses of every command, in one place (documented in
// docs/cli.md and by `pegasus help exit-codes`). A script tells "fix the
// command line" from "the cluster is not there" from "the cluster answered
// that something is wrong" without parsing messages, as with etcdctl.
const (
	exitOK          = 0
	exitError       = 1 // any other failure: a server refused, a roll failed, ...
	exitUsage       = 2 // bad flags or arguments, unknown command, bad config file, no onebox there
	exitCheckFailed = 3 // a check ran and found a problem: lost writes, a violation, processes down
	exitUnreachable = 4 // no meta server (or cluster) could be reached
	exitInterrupted = 130
)

const exitCodesHelp = `Exit status of every pegasus command:

  0    success
  1    failure: a server refused the request, a roll failed or was aborted, ...
  2    usage: bad flags or arguments, an unknown shell command, an invalid
       configuration file, no onebox in the given directory
  3    check failed: the command's check ran and found a problem (bench: an
       acknowledged write lost or a linearizability violation; onebox status:
       a process is down)
  4    cluster unreachable: no meta server answered, or none is the leader
  130  interrupted (SIGINT or SIGTERM)

A shell reading commands from a pipe exits with the status of the first
command that failed.`

// errUsage marks command-line errors found by cobra itself.
var errUsage = errors.New("usage")

// checkFailedError is a check that ran and found a problem.
type checkFailedError struct{ msg string }

func (e checkFailedError) Error() string { return e.msg }
func (e checkFailedError) ExitCode() int { return exitCheckFailed }

// exitCode maps an error to the exit status.
func exitCode(err error) int {
	var ec exitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return ec.ExitCode()
	case errors.Is(err, context.Canceled), errors.Is(err, rolling.ErrInterrupted):
		return exitInterrupted
	case errors.Is(err, errUsage), errors.Is(err, shell.ErrUsage), errors.Is(err, shell.ErrUnknownCommand),
		errors.Is(err, config.ErrInvalid), errors.Is(err, onebox.ErrNoOnebox):
		return exitUsage
	case errors.Is(err, shell.ErrMetaUnreachable), errors.Is(err, client.ErrUnavailable):
		return exitUnreachable
	}
	return exitError
}

// markUsageErrors makes cobra's own argument and flag errors usage errors,
// for every command of the tree.
func markUsageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markUsageErrors(c)
	}
}

func init() {
	// A help topic: `pegasus help exit-codes`.
	root.AddCommand(&cobra.Command{Use: "exit-codes", Short: "Exit status of every command", Long: exitCodesHelp})
}
