package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/onebox"
)

func init() {
	var dir string
	cmd := &cobra.Command{
		Use:   "onebox",
		Short: "Run a whole local cluster as separate processes",
		Long: `Runs a local cluster in one directory: an embedded etcd, meta servers, replica
servers and optionally a collector, each its own process of this binary with
its own config file, data and log under --dir. Ports are chosen once and kept
in <dir>/onebox.json, so start resumes the same cluster after a stop. The meta
server list is written to <dir>/meta_servers, where 'pegasus shell' finds it.

Nodes are named etcd, meta1.., replica1.., collector, or given by address.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", onebox.DefaultDir, "onebox directory")

	open := func(cmd *cobra.Command) (*onebox.Cluster, error) {
		return onebox.Open(dir, onebox.Options{Progress: cmd.OutOrStdout()})
	}

	var opts onebox.Options
	start := &cobra.Command{
		Use:   "start",
		Short: "Create or resume the onebox and wait until the cluster serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Dir = dir
			opts.Progress = cmd.OutOrStdout()
			// Counts left at their defaults must not conflict with an
			// existing onebox of another size: only explicit ones are checked.
			if !cmd.Flags().Changed("metas") {
				opts.Metas = 0
			}
			if !cmd.Flags().Changed("replicas") {
				opts.Replicas = 0
			}
			if !cmd.Flags().Changed("network") {
				opts.Network = ""
			}
			c, err := onebox.Start(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return c.Close()
		},
	}
	f := start.Flags()
	f.IntVar(&opts.Metas, "metas", onebox.DefaultMetas, "meta servers of a new onebox")
	f.IntVar(&opts.Replicas, "replicas", onebox.DefaultReplicas, "replica servers of a new onebox")
	f.BoolVar(&opts.Collector, "collector", false, "also run a collector")
	f.StringVar(&opts.Binary, "binary", "", "pegasus binary every process runs (default: this executable; on resume: each process's own)")
	f.DurationVar(&opts.ReadyTimeout, "timeout", onebox.DefaultReadyTimeout, "how long to wait for the cluster to serve")
	f.StringVar(&opts.Network, "network", onebox.NetworkLoopback,
		"network of a new onebox: loopback, or netns (each replica server in its own network namespace on a bridge, so that it can be cut off; Linux, root, iproute2)")
	f.BoolVar(&opts.TLS, "tls", false,
		"a new onebox requires mutual TLS on every listener, etcd included: an authority and a certificate per process are made in <dir>/certs (plus admin.pem for the tools)")

	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop every process gracefully (SIGTERM, then SIGKILL after a timeout); data stays",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.StopAll()
		},
	}

	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "List the processes with their addresses, PIDs and whether they run",
		Long: `Lists the processes of the onebox with their addresses, PIDs and whether they
run. Exits 0 when every process runs, 3 (check failed) when one is down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := onebox.Open(dir, onebox.Options{})
			if err != nil {
				return err
			}
			defer c.Close()
			procs, err := c.Status()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			id := c.ClusterID(ctx)
			if asJSON {
				err = onebox.WriteStatusJSON(cmd.OutOrStdout(), c.Network(), id, procs)
			} else {
				err = onebox.WriteStatusTable(cmd.OutOrStdout(), c.Network(), id, procs)
			}
			if err != nil {
				return err
			}
			down := 0
			for _, p := range procs {
				if !p.Alive {
					down++
				}
			}
			if down > 0 {
				return checkFailedError{fmt.Sprintf("onebox: %d of %d processes are down (onebox start resumes them)", down, len(procs))}
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	nodeCommand := func(use, short string, run func(cmd *cobra.Command, c *onebox.Cluster, node string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " <node>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := open(cmd)
				if err != nil {
					return err
				}
				defer c.Close()
				return run(cmd, c, args[0])
			},
		}
	}
	restart := nodeCommand("restart", "Stop one process gracefully, start it again and wait until it serves",
		func(cmd *cobra.Command, c *onebox.Cluster, node string) error { return c.Restart(cmd.Context(), node) })
	kill := nodeCommand("kill", "Kill one process with SIGKILL, as a crash would",
		func(_ *cobra.Command, c *onebox.Cluster, node string) error { return c.Kill(node) })
	startNode := nodeCommand("start-node", "Start one stopped process and wait until it serves",
		func(cmd *cobra.Command, c *onebox.Cluster, node string) error {
			return c.StartNode(cmd.Context(), node)
		})
	stopNode := nodeCommand("stop-node", "Stop one process gracefully",
		func(_ *cobra.Command, c *onebox.Cluster, node string) error { return c.Stop(node) })

	addReplica := &cobra.Command{
		Use:   "add-replica",
		Short: "Add a replica server (a scale-out) and wait until the meta leader lists it alive",
		Long: `Adds a replica server to the onebox, as an operator adds a machine to scale a
cluster out: a new process replica<N>, configured like replica1 with its own
addresses and data directory, started and waited for until the meta leader
lists it ALIVE. It holds no replica yet: 'pegasus balance --control
onebox:<dir>' lets the balancer move replicas and primaries onto it.
Loopback oneboxes only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := c.AddReplica(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "onebox: %s serves at %s; run 'pegasus balance' to move replicas onto it\n", p.Name, p.Address)
			return nil
		},
	}

	clean := &cobra.Command{
		Use:   "clean",
		Short: "Stop every process and delete the onebox directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cmd)
			if errors.Is(err, onebox.ErrNoOnebox) {
				fmt.Fprintf(cmd.OutOrStdout(), "onebox: nothing to clean in %s\n", dir)
				return nil
			}
			if err != nil {
				return err
			}
			return c.Clean()
		},
	}

	cmd.AddCommand(start, stop, status, restart, kill, startNode, stopNode, addReplica, clean)
	root.AddCommand(cmd)
}
