package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/demo"
)

func init() {
	var o demo.Options
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a local cluster, load it, rolling-restart it under load, and report",
		Long: `Starts a local cluster (etcd, 2 meta servers, 3 replica servers, each its own process)
in a temporary directory, writes records and reads them back, then restarts every server
node by node with the HA procedure while a client load runs, and prints what the clients
saw: failed operations, the longest stall, lost writes, the linearizability verdict, and
whether the slowest operation met the latency target.
Everything it started is stopped at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			if verbose {
				o.Progress = cmd.ErrOrStderr()
			}
			_, err := demo.Run(cmd.Context(), o)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "", "directory for the cluster and the report (default: a temporary one, removed at the end)")
	f.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (cluster data and report files)")
	f.BoolVar(&o.TLS, "tls", false, "run the cluster with mutual TLS on every listener (onebox start --tls)")
	f.IntVar(&o.Keys, "keys", 10_000, "records to load and read back")
	f.Float64Var(&o.Rate, "rate", 500, "client operations per second during the rolling restart")
	f.DurationVar(&o.Duration, "duration", 20*time.Second, "minimum length of the load")
	f.DurationVar(&o.LatencyTarget, "latency-target", demo.DefaultLatencyTarget, "slowest operation the roll should cause; a miss is reported, not a failure")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every step of the cluster and the orchestrator")
	root.AddCommand(cmd)
}
