package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

func init() {
	root.AddCommand(scaleInCommand(), balanceCommand())
}

// addScaleFlags adds the flags a scale-in and a balance share with a roll.
func (f *rollingFlags) addScaleFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and exit")
	fl.StringArrayVar(&f.timeouts, "timeout", nil, "override a step timeout, e.g. --timeout copy-secondaries=30m (repeatable)")
	fl.Float64Var(&f.minAvail, "min-availability", 0, "pause while the collector's availability is below this (0-1; needs --collector)")
	fl.DurationVar(&f.resend, "resend-interval", 0, "re-issue a step's command this often until it takes effect (default 10s)")
	fl.DurationVar(&f.knobLease, "knob-lease", 0, "how long the meta level override outlives a dead orchestrator (default 2m; renewed while it runs)")
}

func scaleInCommand() *cobra.Command {
	f := &rollingFlags{}
	var maxCopies int
	cmd := &cobra.Command{
		Use:   "scale-in --node ADDR[,ADDR...]",
		Short: "Take replica servers out of a live cluster for good, copying their replicas elsewhere first",
		Long: `Takes the named replica servers out of the cluster, one at a time, with no
partition ever a replica short (Pegasus' scale-in, with a copy in place of the
re-replication after a kill):

  prepare     check every server ALIVE and every partition fully healthy;
              set_meta_level steady (the balancer does not move replicas back)
  each node   migrate_node (its primaries move to caught-up secondaries);
              balance -p copy_sec of each of its secondaries to the least
              loaded remaining replica server, at most --max-copies in flight:
              the new replica learns, becomes a secondary, and only then is
              the node's replica removed; wait until no partition lists the
              node and every partition is fully healthy;
              remote_command -l <node> replica.kill_partition; stop the
              process (it stays stopped); remote_command -t meta-server
              meta.forget_node <node>, so nodes -d no longer lists it
  reset       the meta level back

Refused before anything is touched when a server is down, or when a table's
max_replica_count is more than the replica servers that would remain (the
error names the table). The plan is printed first and needs confirmation
(--yes without a terminal). Progress is kept in etcd like a rolling update's:
'status', 'pause', 'resume' and 'abort' work from another terminal, and
'resume' continues a scale-in whose orchestrator died. Afterwards
'pegasus balance' evens out primaries if wanted. See docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.nodes) == 0 {
				return errors.New("scale-in: --node is required")
			}
			o := plan.Options{Nodes: f.nodes, MaxCopies: maxCopies, MinAvailability: f.minAvail,
				ResendInterval: f.resend, KnobLease: f.knobLease}
			if err := f.commonOptions(&o, "scale-in"); err != nil {
				return err
			}
			return startOperation(cmd, f, plan.OpScaleIn, o)
		},
	}
	f.addPersistentFlags(cmd)
	f.addScaleFlags(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.nodes, "node", nil, "the replica servers to take out (addresses, as nodes -d lists them), in this order")
	fl.IntVar(&maxCopies, "max-copies", 0, "copies of a leaving server's replicas in flight at once (default 8)")
	cmd.AddCommand(f.operatorCommands("scale-in")...)
	return cmd
}

func balanceCommand() *cobra.Command {
	f := &rollingFlags{}
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "Let the meta server even out primaries and replicas (after a scale-out), and wait until it is done",
		Long: `Lets the meta server's balancer spread primaries and replicas evenly over the
replica servers, as after a scale-out (start the new replica servers first;
a onebox adds one with 'pegasus onebox add-replica'):

  check       every server ALIVE and every partition fully healthy
  balance     set_meta_level lively, and wait until the balancer has nothing
              left to move (meta.lb.get_balance_operation_count) and every
              partition is fully healthy; progress shows the moves in flight,
              cluster_info's primary and total replica count stddev and each
              server's primaries/replicas
  reset       the meta level back (steady, normally)

The balancer moves at most one replica per server at a time (a new copy is
learned before the old one is removed, so no partition is ever a replica
short) and starts nothing while a partition is not fully healthy. 'pause'
sets the level to steady at once (moves in flight finish) until 'resume'.
Progress is kept in etcd like a rolling update's; no node is stopped, so
--control is not needed. See docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := plan.Options{MinAvailability: f.minAvail, ResendInterval: f.resend, KnobLease: f.knobLease}
			if err := f.commonOptions(&o, "balance"); err != nil {
				return err
			}
			return startOperation(cmd, f, plan.OpBalance, o)
		},
	}
	f.addPersistentFlags(cmd)
	f.addScaleFlags(cmd)
	cmd.AddCommand(f.operatorCommands("balance")...)
	return cmd
}
