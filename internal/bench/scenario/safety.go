package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Safety scenarios: fault schedules aimed at the holes of the replication
// protocol rather than at availability. Each ends with the checks every
// scenario has (failed and unknown operations, acknowledged writes lost,
// linearizability).

// TableShape is the benchmark table a scenario needs.
type TableShape struct {
	Partitions int
	Replicas   int
}

// Members is the configuration of partition 0 of the benchmark table, by
// process name.
type Members struct {
	Primary     string
	Secondaries []string
	Ballot      int64
}

// All returns the primary first, then the secondaries.
func (m Members) All() []string {
	if m.Primary == "" {
		return slices.Clone(m.Secondaries)
	}
	return append([]string{m.Primary}, m.Secondaries...)
}

func (m Members) String() string {
	return fmt.Sprintf("{%s} at ballot %d", strings.Join(m.All(), ", "), m.Ballot)
}

// MemberFinder reads the configuration of partition 0 of the benchmark
// table from the meta server.
type MemberFinder interface {
	Members(ctx context.Context) (Members, error)
}

// ClockStepper steps one server's wall clock through the test-only hook
// (replica.WallClockOffsetEnv): offset is the total offset from the true
// time, 0 to undo.
type ClockStepper interface {
	StepClock(ctx context.Context, node string, offset time.Duration) error
}

func needMemberFinder(c Cluster) error {
	if _, ok := c.(MemberFinder); !ok {
		return fmt.Errorf("%w: %s cannot read a partition's configuration", ErrUnsupported, c.Describe())
	}
	return nil
}

func needClockStepper(c Cluster) error {
	if _, ok := c.(ClockStepper); !ok {
		return fmt.Errorf("%w: %s cannot step a server's clock", ErrUnsupported, c.Describe())
	}
	return nil
}

// staggeredSchedule is one kill/restart order of a partition's members:
// primaryAt is the position of the primary in the kill order (the
// secondaries take the others, in configuration order); staleFirst
// restarts the first killed member first (it misses everything acked after
// it died), else the last killed (the freshest) first. The first restarted
// member runs alone for the scenario's downtime before the others start.
type staggeredSchedule struct {
	primaryAt  int
	staleFirst bool
}

// staggeredSchedules enumerates the schedules of a partition of r members:
// every position of the primary in the kill order, down to all members
// killed (secondaries are interchangeable, so their order among themselves
// is not enumerated), times both restart orders. For r = 2 that is 4
// schedules; the reproduction (kill B, writes acked by {P}, kill
// P, start B, wait, start P) is {primaryAt 1, staleFirst}.
func staggeredSchedules(r int) []staggeredSchedule {
	var out []staggeredSchedule
	for _, stale := range []bool{true, false} {
		for at := r - 1; at >= 0; at-- {
			out = append(out, staggeredSchedule{primaryAt: at, staleFirst: stale})
		}
	}
	return out
}

// killOrder places m's primary at position primaryAt.
func (s staggeredSchedule) killOrder(m Members) []string {
	order := slices.Clone(m.Secondaries)
	at := min(s.primaryAt, len(order))
	return slices.Insert(order, at, m.Primary)
}

func (s staggeredSchedule) restartOrder(killed []string) []string {
	out := slices.Clone(killed)
	if !s.staleFirst {
		slices.Reverse(out)
	}
	return out
}

func (s staggeredSchedule) describe(m Members) string {
	kill := s.killOrder(m)
	role := func(n string) string {
		if n == m.Primary {
			return n + " (primary)"
		}
		return n
	}
	var k []string
	for _, n := range kill {
		k = append(k, role(n))
	}
	which := "the freshest (last killed) first"
	if s.staleFirst {
		which = "the stalest (first killed) first"
	}
	return fmt.Sprintf("kill -9 %s, each after writes were acknowledged by the shrunken configuration; restart %s: %s",
		strings.Join(k, ", then "), which, strings.Join(s.restartOrder(kill), ", then "))
}

// shrinkTimeout bounds the wait for the meta server to take a killed
// member out of the configuration: a secondary goes within the prepare
// timeout, a primary after the failure detector's grace.
const shrinkTimeout = 90 * time.Second

// ackedWindow is how long the load runs against a shrunken configuration
// before the next member is killed (at most the downtime).
const ackedWindow = 3 * time.Second

// staggeredOutage runs every schedule of staggeredSchedules in turn, each
// from a fully healthy partition: members are killed one by one with
// writes acknowledged by the shrunken configuration in between, down to
// all of them; then restarted in the schedule's order, the first alone for
// the downtime. What the meta server makes of it (which member it makes
// primary) is what the checks judge.
func staggeredOutage(ctx context.Context, e *Env) error {
	mf := e.Cluster.(MemberFinder)
	first, err := mf.Members(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEvent, err)
	}
	schedules := staggeredSchedules(len(first.All()))
	for i, sch := range schedules {
		if i > 0 {
			if err := e.Step(fmt.Sprintf("wait healthy (schedule %d)", i), func() error { return e.Cluster.WaitHealthy(ctx) }); err != nil {
				return err
			}
		}
		m, err := mf.Members(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEvent, err)
		}
		e.Note("schedule %d/%d from %s: %s", i+1, len(schedules), m, sch.describe(m))
		kill := sch.killOrder(m)
		for j, node := range kill {
			if err := e.Step("kill -9 "+node, func() error { return e.Cluster.Kill(ctx, node) }); err != nil {
				return err
			}
			if j == len(kill)-1 {
				break
			}
			var shrunk Members
			var shrinkErr error
			end := e.annotate("wait until the configuration drops " + node)
			shrunk, shrinkErr = waitShrunk(ctx, mf, kill[:j+1])
			end()
			if shrinkErr != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("%w: %w", ErrEvent, ctx.Err())
				}
				// What the meta server does not do is part of the result:
				// the schedule goes on without writes acknowledged by a
				// shrunken configuration at this step.
				e.Note("schedule %d/%d: the meta server did not make a configuration without %s and with a primary within %s: %v",
					i+1, len(schedules), strings.Join(kill[:j+1], ", "), shrinkTimeout, shrinkErr)
				continue
			}
			window := min(ackedWindow, e.Downtime)
			if err := e.Step(fmt.Sprintf("writes acked by %s", shrunk), func() error { return e.Wait(ctx, window) }); err != nil {
				return err
			}
		}
		for j, node := range sch.restartOrder(kill) {
			if err := e.Step("start "+node, func() error { return e.Cluster.Start(ctx, node) }); err != nil {
				return err
			}
			if j == 0 && len(kill) > 1 {
				if err := e.Step(fmt.Sprintf("%s alone %s", node, e.Downtime), func() error { return e.Wait(ctx, e.Downtime) }); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waitShrunk waits until the configuration has a primary and none of dead.
func waitShrunk(ctx context.Context, mf MemberFinder, dead []string) (Members, error) {
	ctx, cancel := context.WithTimeout(ctx, shrinkTimeout)
	defer cancel()
	var last Members
	for {
		m, err := mf.Members(ctx)
		if err == nil {
			last = m
			if m.Primary != "" && !slices.ContainsFunc(m.All(), func(n string) bool { return slices.Contains(dead, n) }) {
				return m, nil
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return last, fmt.Errorf("configuration still %s (%w)", last, err)
		}
	}
}

// etcdOutage kills every etcd process with SIGKILL, leaves the metadata
// store down for the downtime under load, and starts it again. With no
// configuration change pending, data traffic needs no metadata store.
func etcdOutage(ctx context.Context, e *Env) error {
	nodes := e.Cluster.Nodes(RoleEtcd)
	if len(nodes) == 0 {
		return fmt.Errorf("%w: no etcd process", ErrNoNode)
	}
	for _, n := range nodes {
		if err := e.Step("kill -9 "+n, func() error { return e.Cluster.Kill(ctx, n) }); err != nil {
			return err
		}
	}
	if err := e.Step(fmt.Sprintf("etcd down %s", e.Downtime), func() error { return e.Wait(ctx, e.Downtime) }); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := e.Step("start "+n, func() error { return e.Cluster.Start(ctx, n) }); err != nil {
			return err
		}
	}
	return nil
}

// clockSteps is the clock-step schedule: total offsets, each held for the
// downtime. From the true time the clock jumps +30 s, back (-30 s), -30 s,
// back (+30 s): both directions, from and to the true time.
var clockSteps = []time.Duration{30 * time.Second, 0, -30 * time.Second, 0}

// clockStep steps the wall clock of the replica server holding the most
// primaries through the test-only hook while the load runs. The offset is
// reset whatever happens.
func clockStep(ctx context.Context, e *Env) (err error) {
	node, err := victimReplica(ctx, e)
	if err != nil {
		return err
	}
	cs := e.Cluster.(ClockStepper)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := cs.StepClock(rctx, node, 0); rerr != nil && err == nil {
			err = fmt.Errorf("%w: reset the clock of %s: %w", ErrEvent, node, rerr)
		}
	}()
	prev := time.Duration(0)
	for _, off := range clockSteps {
		label := fmt.Sprintf("clock of %s jumps %+v (offset %v)", node, off-prev, off)
		if err := e.Step(label, func() error { return cs.StepClock(ctx, node, off) }); err != nil {
			return err
		}
		prev = off
		if err := e.Step(fmt.Sprintf("hold %s", e.Downtime), func() error { return e.Wait(ctx, e.Downtime) }); err != nil {
			return err
		}
	}
	return nil
}
