package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// System is the kind of cluster a scenario runs against.
type System string

const (
	// SystemPegasus: a Pegasus cluster (a onebox of meta and replica
	// servers), loaded through the Pegasus client.
	SystemPegasus System = "pegasus"
	// SystemEtcd: a three-member etcd cluster, loaded through the etcd
	// client, as a reference point for the Pegasus figures.
	SystemEtcd System = "etcd"
)

// Scenario is one named fault scenario.
type Scenario struct {
	Name    string
	Summary string
	System  System
	// Downtime is how long a crashed or frozen node stays down when
	// Options.Downtime is zero.
	Downtime time.Duration
	// WriteHeavy makes the load mostly writes (WriteHeavyReadRatio), for
	// scenarios about what a crash does to the write path.
	WriteHeavy bool
	// NoFailures is the scenario's promise that no client operation fails
	// at all; a failed operation is then reported as a problem, not just
	// counted. It is the promise of the high-availability rolling update.
	NoFailures bool
	// Table, when set, is the benchmark table the scenario needs; it
	// replaces the command's -p and replica count.
	Table TableShape
	// Keys, when set, is the scenario's default number of distinct keys:
	// a few hot keys make a stale read or a lost write visible.
	Keys uint64
	// Network, when set, is the onebox network mode the scenario needs.
	Network string
	// WallClockHook: the replica servers must start with the test-only
	// wall-clock hook (ClockStepper).
	WallClockHook bool
	// ReplicaConfig and MetaConfig, when set, adjust the replica and meta
	// servers' configurations of the onebox the scenario runs on.
	ReplicaConfig func(*config.Replica)
	MetaConfig    func(*config.Meta)
	// Expected says what the scenario shows today when it is known to
	// fail until work elsewhere lands; empty otherwise. It is printed in
	// the help and the report's notes, never used to pass a run.
	Expected string

	// needs reports ErrUnsupported when the cluster lacks a capability
	// event uses; nil needs nothing beyond Cluster.
	needs func(Cluster) error
	// event injects the fault and repairs it; nil for the baseline.
	event func(ctx context.Context, e *Env) error
}

// WriteHeavyReadRatio is the read ratio of a WriteHeavy scenario's load.
const WriteHeavyReadRatio = 0.1

// tornLogRounds is how many crash-and-restart rounds torn-log runs.
const tornLogRounds = 3

// catalogue lists the scenarios in the order the documentation shows them.
var catalogue = []Scenario{
	{
		Name:    "baseline",
		Summary: "no event: the load alone, the reference for every other scenario",
		System:  SystemPegasus,
	},
	{
		Name:       "rolling-ha",
		Summary:    "rolling update in high-availability mode: primaries moved off each replica server before it restarts",
		System:     SystemPegasus,
		NoFailures: true,
		needs:      needRoller,
		event:      rollingUpdate(plan.ModeHA),
	},
	{
		Name:    "rolling-simple",
		Summary: "rolling update in simple mode: each server stopped, started and waited for, primaries fail over by timeout",
		System:  SystemPegasus,
		needs:   needRoller,
		event:   rollingUpdate(plan.ModeSimple),
	},
	{
		Name:     "kill-replica",
		Summary:  "kill -9 the replica server holding the most primaries, then restart it",
		System:   SystemPegasus,
		Downtime: 3 * time.Second,
		event:    killReplica,
	},
	{
		Name:     "kill-meta-leader",
		Summary:  "kill -9 the meta server leader, then restart it",
		System:   SystemPegasus,
		Downtime: 3 * time.Second,
		needs:    needLeaderFinder,
		event:    killMetaLeader,
	},
	{
		Name:    "partition-primary",
		Summary: "cut the replica server holding the most primaries off the cluster for longer than the failure detector's grace, then heal",
		System:  SystemPegasus,
		// Beyond the default 10 s grace: the meta server must declare the
		// node dead and promote secondaries while the old primary still
		// believes it leads, which is what the lease must make harmless.
		Downtime: 15 * time.Second,
		needs:    needCutterOrFreezer,
		event:    partitionPrimary,
	},
	{
		Name:       "torn-log",
		Summary:    fmt.Sprintf("kill -9 the replica server holding the most primaries during heavy writes, restart it, %d times", tornLogRounds),
		System:     SystemPegasus,
		Downtime:   time.Second,
		WriteHeavy: true,
		event:      tornLog,
	},
	{
		Name: "staggered-outage",
		Summary: "table -p 1 -r 2: kill -9 the partition's members one by one down to all of them, with writes acked by each " +
			"shrunken configuration, restart them in every order (4 schedules)",
		System:     SystemPegasus,
		Downtime:   15 * time.Second,
		Table:      TableShape{Partitions: 1, Replicas: 2},
		Keys:       10,
		WriteHeavy: true,
		needs:      needMemberFinder,
		event:      staggeredOutage,
	},
	{
		Name:       "staggered-outage-r3",
		Summary:    "staggered-outage on a 3-replica partition (6 schedules: the primary killed first, second or last; stalest or freshest restarted first)",
		System:     SystemPegasus,
		Downtime:   15 * time.Second,
		Table:      TableShape{Partitions: 1, Replicas: 3},
		Keys:       10,
		WriteHeavy: true,
		// With two of the three replica servers down, the meta server
		// freezes (Pegasus' check_freeze: fewer than
		// min_live_node_count_for_unfreeze, 2, or than
		// node_live_percentage_threshold_for_update, 50%, of the replica
		// servers alive) and promotes no secondary, so the schedules that
		// kill the primary second would never see writes acknowledged by
		// the last member alone. These values let it act down to one live
		// server.
		// Each schedule restarts every member, six times within minutes,
		// which the guard against restart loops (5 in a row within 10
		// minutes) would refuse at the sixth schedule.
		MetaConfig: func(m *config.Meta) {
			m.MinLiveNodeCountForUnfreeze = 1
			m.NodeLivePercentageThreshold = 0
			m.MaxSuccessiveUnstableRestart = 0
		},
		needs: needMemberFinder,
		event: staggeredOutage,
	},
	{
		Name: "counter-restarts",
		Summary: "incr and check_and_set on 4 counters with 60 s deadlines while the busiest replica server and the meta " +
			"leader are killed and restarted and a replica server restarts behind trimmed logs (checkpoint install): " +
			"acked <= final <= acked + unknown, no value returned twice",
		System:   SystemPegasus,
		Downtime: 5 * time.Second,
		// 1 MiB log segments: a learner's gap then starts in sealed
		// segments that replica.trigger-checkpoint removes, so it must
		// copy a checkpoint (the 32 MiB default keeps it in the active one).
		ReplicaConfig: func(r *config.Replica) { r.LogPrivateFileSizeMB = 1 },
		needs:         needCounters,
		event:         counterRestarts,
		// Passes today: this schedule does not make a retry meet a replica
		// whose in-memory dedup table lost the original (docs/correctness.md).
	},
	{
		Name:     "etcd-outage",
		Summary:  "kill -9 the metadata store (etcd) under load, restart it after 30 s",
		System:   SystemPegasus,
		Downtime: 30 * time.Second,
		event:    etcdOutage,
	},
	{
		Name: "clock-step",
		Summary: "the wall clock of the replica server holding the most primaries jumps +30 s, back, -30 s, back " +
			"(test-only hook), each held 15 s, under load",
		System:        SystemPegasus,
		Downtime:      15 * time.Second,
		WallClockHook: true,
		needs:         needClockStepper,
		event:         clockStep,
	},
	{
		Name: "isolate-primary-migrate",
		Summary: "table -p 1 -r 3 on netns: the load reads from inside the primary's network namespace; the primary is cut " +
			"off from the meta servers and its peers and migrate_node moves its primary role at once; healed after 30 s",
		System: SystemPegasus,
		// Beyond the old primary's lease (9 s) and the failure detector's
		// grace (10 s): the cut-off node must stop serving by itself, and
		// the new configuration must serve before it is back.
		Downtime: 30 * time.Second,
		Table:    TableShape{Partitions: 1, Replicas: 3},
		Keys:     10,
		Network:  networkNetNS,
		needs:    needIsolation,
		event:    isolatePrimaryMigrate,
	},
	{
		Name:    "etcd-rolling",
		Summary: "etcd for comparison: restart the members of a 3-member cluster one at a time (SIGTERM, start, wait healthy)",
		System:  SystemEtcd,
		event:   restartEach(RoleEtcd),
	},
}

// All returns every scenario.
func All() []Scenario { return slices.Clone(catalogue) }

// Names returns the names of every scenario.
func Names() []string {
	names := make([]string, len(catalogue))
	for i, s := range catalogue {
		names[i] = s.Name
	}
	return names
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, error) {
	for _, s := range catalogue {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownScenario, name, strings.Join(Names(), ", "))
}

// Supports returns nil when c offers every capability the scenario needs,
// else an error wrapping ErrUnsupported.
func (s Scenario) Supports(c Cluster) error {
	if s.needs == nil {
		return nil
	}
	if err := s.needs(c); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

func needRoller(c Cluster) error {
	if _, ok := c.(Roller); !ok {
		return fmt.Errorf("%w: %s cannot run a rolling update", ErrUnsupported, c.Describe())
	}
	return nil
}

func needLeaderFinder(c Cluster) error {
	if _, ok := c.(LeaderFinder); !ok {
		return fmt.Errorf("%w: %s cannot name its leader", ErrUnsupported, c.Describe())
	}
	return nil
}

func needCutterOrFreezer(c Cluster) error {
	if nc, ok := c.(NetworkCutter); ok {
		if _, err := nc.CutMethod(); err == nil {
			return nil
		}
	}
	if _, ok := c.(Freezer); !ok {
		return fmt.Errorf("%w: %s can neither cut a node off the network nor freeze a process", ErrUnsupported, c.Describe())
	}
	return nil
}

// rollingUpdate runs the cluster's own rolling update.
func rollingUpdate(mode plan.Mode) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		r := e.Cluster.(Roller)
		return e.Step(fmt.Sprintf("rolling-update --mode %s", mode), func() error {
			return r.RollingUpdate(ctx, mode)
		})
	}
}

// victimReplica picks the replica server whose loss hurts most: the one
// holding the most primaries when the cluster can tell, else the first.
func victimReplica(ctx context.Context, e *Env) (string, error) {
	if pf, ok := e.Cluster.(PrimaryFinder); ok {
		node, n, err := pf.Primary(ctx)
		if err == nil && node != "" {
			e.Note("target %s holds %d primaries of the benchmark table", node, n)
			return node, nil
		}
		if err != nil {
			e.Note("could not find the busiest primary (%v); taking the first replica server", err)
		}
	}
	nodes := e.Cluster.Nodes(RoleReplica)
	if len(nodes) == 0 {
		return "", fmt.Errorf("%w: no replica server", ErrNoNode)
	}
	return nodes[0], nil
}

// crashAndRestart kills node, leaves it down for the downtime, and starts
// it again.
func crashAndRestart(ctx context.Context, e *Env, node string) error {
	if err := e.Step("kill -9 "+node, func() error { return e.Cluster.Kill(ctx, node) }); err != nil {
		return err
	}
	if e.Downtime > 0 {
		if err := e.Step(fmt.Sprintf("%s down %s", node, e.Downtime), func() error { return e.Wait(ctx, e.Downtime) }); err != nil {
			return err
		}
	}
	return e.Step("restart "+node, func() error { return e.Cluster.Start(ctx, node) })
}

func killReplica(ctx context.Context, e *Env) error {
	node, err := victimReplica(ctx, e)
	if err != nil {
		return err
	}
	return crashAndRestart(ctx, e, node)
}

func killMetaLeader(ctx context.Context, e *Env) error {
	leader, err := e.Cluster.(LeaderFinder).Leader(ctx, RoleMeta)
	if err != nil {
		return fmt.Errorf("%w: finding the meta leader: %w", ErrEvent, err)
	}
	e.Note("target %s is the meta server leader", leader)
	return crashAndRestart(ctx, e, leader)
}

// partitionPrimary cuts the busiest primary off the network for the
// downtime when the cluster can (NetworkCutter), else freezes its process
// (Freezer). Either way the node is healed whatever happens, even when ctx
// ends: a node left cut off or frozen would hang every later test of the
// cluster.
func partitionPrimary(ctx context.Context, e *Env) error {
	node, err := victimReplica(ctx, e)
	if err != nil {
		return err
	}
	var cutErr error
	if nc, ok := e.Cluster.(NetworkCutter); ok {
		how, err := nc.CutMethod()
		if err == nil {
			e.Note("the fault is a network cut: %s keeps running, its own timers included, while no packet "+
				"reaches or leaves it (%s)", node, how)
			return isolate(ctx, e, node, "cut", nc.Cut, nc.Heal)
		}
		cutErr = err
	}
	note := "the network cut is a freeze: %s is stopped with SIGSTOP and healed with SIGCONT (a onebox on " +
		"loopback cannot cut one server off; `--network netns` can). A frozen process keeps its connections " +
		"open and answers nothing, as behind a cut, but its own timers stop too"
	if cutErr != nil {
		e.Note(note+" (no real cut: %v)", node, cutErr)
	} else {
		e.Note(note, node)
	}
	f := e.Cluster.(Freezer)
	return isolate(ctx, e, node, "freeze", f.Freeze, f.Thaw)
}

// isolate applies fault (cut or freeze) to node, waits for the downtime
// and heals it; the heal runs even when ctx ends or a step fails.
func isolate(ctx context.Context, e *Env, node, verb string, fault, heal func(context.Context, string) error) (err error) {
	if err := e.Step(verb+" "+node, func() error { return fault(ctx, node) }); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			healCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if herr := heal(healCtx, node); herr != nil && err == nil {
				err = fmt.Errorf("%w: heal %s: %w", ErrEvent, node, herr)
			}
		}
	}()
	if err := e.Step(fmt.Sprintf("%s cut off %s", node, e.Downtime), func() error { return e.Wait(ctx, e.Downtime) }); err != nil {
		return err
	}
	healed = true
	return e.Step("heal "+node, func() error { return heal(ctx, node) })
}

// tornLog crashes the busiest primary repeatedly while the load writes
// heavily, so that each crash is likely to cut a mutation log write in
// half; the cluster must recover to full health between rounds, and no
// acknowledged write may be lost across all of them.
func tornLog(ctx context.Context, e *Env) error {
	for round := 1; round <= tornLogRounds; round++ {
		node, err := victimReplica(ctx, e)
		if err != nil {
			return err
		}
		if err := crashAndRestart(ctx, e, node); err != nil {
			return err
		}
		if round == tornLogRounds {
			break // the runner waits for full health after the event
		}
		if err := e.Step(fmt.Sprintf("wait healthy (round %d)", round), func() error {
			return e.Cluster.WaitHealthy(ctx)
		}); err != nil {
			return err
		}
	}
	return nil
}

// restartEach restarts every node of role in turn, gracefully, waiting for
// full health after each: the rolling restart an operator of a cluster
// without an orchestrator does by hand.
func restartEach(role Role) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		nodes := e.Cluster.Nodes(role)
		if len(nodes) == 0 {
			return fmt.Errorf("%w: no %s node", ErrNoNode, role)
		}
		for i, node := range nodes {
			if err := e.Step("stop "+node, func() error { return e.Cluster.Stop(ctx, node) }); err != nil {
				return err
			}
			if err := e.Step("start "+node, func() error { return e.Cluster.Start(ctx, node) }); err != nil {
				return err
			}
			if i == len(nodes)-1 {
				break // the runner waits for full health after the event
			}
			if err := e.Step("wait healthy", func() error { return e.Cluster.WaitHealthy(ctx) }); err != nil {
				return err
			}
		}
		return nil
	}
}
