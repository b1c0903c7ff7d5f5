// Command pegasus is the single binary of the cluster: every server role,
// the shell, the local cluster supervisor, the rolling-update orchestrator
// and the benchmarks are its subcommands. This file only parses flags and
// dispatches; the roles live under internal/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// root is the top-level command; each role's file adds its subcommand in init.
var root = &cobra.Command{
	Use:   "pegasus",
	Short: "A distributed key-value store whose rolling restarts fail no request",
	Long: `pegasus runs every role of a cluster from one binary:

  meta            meta server: tables, partition configuration, failure detection
  replica         replica server: serves partitions, PacificA replication
  collector       availability detector and metrics aggregation
  shell           Pegasus-style admin and data shell
  onebox          a whole local cluster as separate processes
  rolling-update  restart or upgrade a live cluster node by node, safely
  bench           load generator and fault scenarios with an availability report
  demo            a local cluster, loaded and rolling-restarted, with a report
  cert            certificate authority, certificates and admin tokens for TLS`,
	// NoArgs makes an unknown subcommand an argument error, which
	// markUsageErrors turns into a usage error (exit 2).
	Args: cobra.NoArgs,
	// Without a subcommand: the help above.
	RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	// Everything the process creates (data directories, Pebble files,
	// logs, keys) is its user's only: directories 0700, files 0600.
	syscall.Umask(0o077)
	// SIGINT/SIGTERM cancel the command's context: servers shut down
	// gracefully, long jobs stop and still write their reports.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	markUsageErrors(root)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "pegasus: %v\n", err)
		stop()
		os.Exit(exitCode(err))
	}
}

// exitCoder lets a subcommand choose its exit status (e.g. a benchmark that
// found lost writes exits exitCheckFailed); see exitcodes.go.
type exitCoder interface{ ExitCode() int }
