package meta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestRemoteCommandsAndLevelSurviveLeaderChange(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.knobs.AssignDelay = 7 * time.Second // the "configuration file" of later leaders
	ctx := context.Background()
	run := func(c *Controller, cmd string, args ...string) (string, error) {
		t.Helper()
		return c.RemoteCommand(ctx, cmd, args, KnobLease{})
	}

	out, err := run(s.ctl, decide.KnobAssignDelayMs)
	if err != nil || out != `{"error":"ok","meta.lb.assign_delay_ms":"300000"}` {
		t.Fatalf("query: %s, %v", out, err)
	}
	if out, err = run(s.ctl, decide.KnobAssignDelayMs, "1000"); err != nil || out != `{"error":"ok","meta.lb.assign_delay_ms":"1000"}` {
		t.Fatalf("set: %s, %v", out, err)
	}
	if _, err := run(s.ctl, decide.KnobLivePercentage, "30"); err != nil {
		t.Fatal(err)
	}
	out, err = run(s.ctl, decide.KnobLivePercentage, "101")
	if !errors.Is(err, decide.ErrInvalidKnobValue) || !strings.HasPrefix(out, `{"error":"ERR: `) || wireCode(err) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
		t.Fatalf("bad value: %s, %v", out, err)
	}
	if _, err := run(s.ctl, "meta.dump"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("unknown command: %v", err)
	}
	if _, err := run(s.ctl, decide.KnobLivePercentage, "1", "2"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("two arguments: %v", err)
	}
	help, _ := run(s.ctl, "help")
	for _, k := range remoteKnobs {
		if !strings.Contains(help, k.name) {
			t.Fatalf("help lacks %s:\n%s", k.name, help)
		}
	}
	old, cur, err := s.ctl.MetaLevel(ctx, "lively", KnobLease{})
	if err != nil || old != decide.LevelSteady || cur != decide.LevelLively || old.String() != "fl_steady" {
		t.Fatalf("set_meta_level: %v %v %v", old, cur, err)
	}
	if _, _, err := s.ctl.MetaLevel(ctx, "loud", KnobLease{}); !errors.Is(err, decide.ErrUnknownLevel) {
		t.Fatalf("bad level: %v", err)
	}

	// A new leader keeps what was set.
	s.ctl = s.newController()
	s.lead(s.ctl)
	if out, _ := run(s.ctl, decide.KnobAssignDelayMs); out != `{"error":"ok","meta.lb.assign_delay_ms":"1000"}` {
		t.Fatalf("after takeover: %s", out)
	}
	if old, cur, _ := s.ctl.MetaLevel(ctx, "", KnobLease{}); old != decide.LevelLively || cur != decide.LevelLively {
		t.Fatalf("level after takeover: %v", cur)
	}
	// DEFAULT restores the configuration file's value, and forgets the
	// stored one.
	if out, err := run(s.ctl, decide.KnobAssignDelayMs, "DEFAULT"); err != nil || out != `{"error":"ok","meta.lb.assign_delay_ms":"7000"}` {
		t.Fatalf("DEFAULT: %s, %v", out, err)
	}
	snap, _ := s.store.Load(ctx)
	if _, ok := snap.Knobs[decide.KnobAssignDelayMs]; ok || snap.Knobs[decide.KnobLivePercentage] != "30" || snap.Knobs[decide.KnobFunctionLevel] != "lively" {
		t.Fatalf("stored knobs: %v", snap.Knobs)
	}
}

func TestMigrateAndDowngradeNode(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	ctx := context.Background()
	s.steps(1)
	s.createTable("t", 8, 3)
	// Right after a leader change, handovers wait for the failure detector.
	if _, err := s.ctl.MigrateNode(ctx, "n1:1", DrainOptions{}); !errors.Is(err, ErrLevelForbids) {
		t.Fatalf("migrate before settling: %v", err)
	}
	s.settle()

	// -t test: the same proposals, nothing changed; -a of another table:
	// nothing.
	before := configsByGpid(t, s.ctl, "t")
	dry, err := s.ctl.MigrateNode(ctx, "n1:1", DrainOptions{DryRun: true, Table: "t"})
	if err != nil || len(dry) != 2*2 {
		t.Fatalf("migrate_node -t test: %v, %q", err, dry)
	}
	if after := configsByGpid(t, s.ctl, "t"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a dry run changed configurations")
	}
	if _, err := s.ctl.MigrateNode(ctx, "n1:1", DrainOptions{DryRun: true, Table: "nope"}); !errors.Is(err, ErrTableNotFound) {
		t.Fatalf("unknown table: %v", err)
	}

	lines, err := s.ctl.MigrateNode(ctx, "n1:1", DrainOptions{})
	if err != nil || len(lines) != 2*2 || fmt.Sprint(lines) != fmt.Sprint(dry) {
		t.Fatalf("migrate_node: %v, %q (dry run said %q)", err, lines, dry)
	}
	if !strings.HasPrefix(lines[0], "propose --gpid 1.") || !strings.Contains(lines[0], "--type DOWNGRADE_TO_SECONDARY -t n1:1 -n n1:1") {
		t.Fatalf("line %q", lines[0])
	}
	s.waitPushes()
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if c.Primary == "n1:1" || c.Primary == "" {
			t.Fatalf("%s after migrate_node: %s", g, c)
		}
		// The new primary was told at once.
		s.admin.mu.Lock()
		held := s.admin.nodes[c.Primary].reps[g].cfg
		s.admin.mu.Unlock()
		if held.Ballot != c.Ballot {
			t.Fatalf("%s: new primary %s holds ballot %d, meta %d", g, c.Primary, held.Ballot, c.Ballot)
		}
	}
	// balance -p move_pri puts one primary back where it was.
	for g, c := range before {
		if c.Primary != "n1:1" {
			continue
		}
		now := configsByGpid(t, s.ctl, "t")[g]
		lines, err := s.ctl.MovePrimary(ctx, g, now.Primary, "n1:1")
		if err != nil || len(lines) != 2 {
			t.Fatalf("move_pri %s %s -> n1:1: %v %q", g, now.Primary, err, lines)
		}
		if got := configsByGpid(t, s.ctl, "t")[g]; got.Primary != "n1:1" || got.RoleOf(now.Primary) != decide.RoleSecondary {
			t.Fatalf("%s after move_pri: %s", g, got)
		}
		if _, err := s.ctl.MigrateNode(ctx, "n1:1", DrainOptions{}); err != nil {
			t.Fatal(err)
		}
		break
	}
	s.waitPushes()
	if _, err := s.ctl.DowngradeNode(ctx, "n1:1", DrainOptions{}); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.ctl.ListNodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Address == "n1:1" && (n.Replicas() != 0 || !n.Alive) {
			t.Fatalf("drained node: %+v", n)
		}
	}
	// With n1 drained, n2 cannot be drained below two members everywhere.
	_, err = s.ctl.DowngradeNode(ctx, "n2:1", DrainOptions{})
	var de *decide.DrainError
	if !errors.As(err, &de) || !errors.Is(err, decide.ErrTooFewMembers) || wireCode(err) != pb.ErrorCode_ERR_REJECT {
		t.Fatalf("downgrade that would leave one copy: %v", err)
	}
}

func TestStatusAndListNodes(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	s.createTable("t", 4, 3)
	s.node("n3:1").down = true
	s.steps(int(testFD().Grace/time.Second) + 1)
	st, err := s.ctl.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.AliveNodes != 2 || st.TotalNodes != 3 || st.Tables != 1 || st.Partitions != 4 || st.Level != decide.LevelSteady {
		t.Fatalf("status %+v", st)
	}
	nodes, _ := s.ctl.ListNodes()
	if len(nodes) != 3 || nodes[2].Address != "n3:1" || nodes[2].Alive || nodes[2].Replicas() != 0 || nodes[0].Protocol == "" {
		t.Fatalf("nodes %+v", nodes)
	}
	tables, _ := s.ctl.ListTables()
	if h := tables[0].Health; h.Unhealthy != 4 || h.WriteUnhealthy != 0 || h.ReadUnhealthy != 0 {
		t.Fatalf("health with one of three nodes dead: %+v", h)
	}
}

// TestKnobOverridesCarryOwnerAndLapse: an override records who set it;
// one set with a lease lapses once the lease runs out unrenewed (a rolling
// update that died leaves nothing behind for longer), one renewed in time
// stays, an operator's override without lease stays, and a new leader
// knows all of it. The level resets to the configuration's with DEFAULT.
func TestKnobOverridesCarryOwnerAndLapse(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	ctx := context.Background()
	roll := KnobLease{Owner: "rolling-update roll-1", TTL: 10 * time.Second}
	if _, err := s.ctl.RemoteCommand(ctx, decide.KnobAssignDelayMs, []string{"3600000"}, roll); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ctl.RemoteCommand(ctx, decide.KnobAddSecondaryMaxCountForOneNode, []string{"0"}, roll); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ctl.RemoteCommand(ctx, decide.KnobLivePercentage, []string{"30"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ctl.MetaLevel(ctx, "lively", roll); err != nil {
		t.Fatal(err)
	}
	list := func() string {
		t.Helper()
		os, err := s.ctl.Overrides()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, o := range os {
			fmt.Fprintf(&b, "%s=%s owner=%q", o.Knob, o.Value, o.Owner)
			if !o.Expires.IsZero() {
				fmt.Fprintf(&b, " in %v", o.Expires.Sub(s.clock.Now()))
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	want := "meta.function_level=lively owner=\"rolling-update roll-1\" in 10s\n" +
		"meta.lb.add_secondary_max_count_for_one_node=0 owner=\"rolling-update roll-1\" in 10s\n" +
		"meta.lb.assign_delay_ms=3600000 owner=\"rolling-update roll-1\" in 10s\n" +
		"meta.live_percentage=30 owner=\"\"\n"
	if got := list(); got != want {
		t.Fatalf("overrides\n%swant\n%s", got, want)
	}
	// A new leader knows owners and leases.
	s.ctl = s.newController()
	s.lead(s.ctl)
	if got := list(); got != want {
		t.Fatalf("overrides after takeover\n%swant\n%s", got, want)
	}
	// The roll renews one knob; the others lapse.
	s.clock.Advance(6 * time.Second)
	if _, err := s.ctl.RemoteCommand(ctx, decide.KnobAddSecondaryMaxCountForOneNode, []string{"0"}, roll); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(5 * time.Second)
	if _, err := s.ctl.Round(ctx); err != nil {
		t.Fatal(err)
	}
	want = "meta.lb.add_secondary_max_count_for_one_node=0 owner=\"rolling-update roll-1\" in 5s\n" +
		"meta.live_percentage=30 owner=\"\"\n"
	if got := list(); got != want {
		t.Fatalf("overrides after the lease\n%swant\n%s", got, want)
	}
	k := s.ctl.planner.Knobs()
	if k.AssignDelay != s.knobs.AssignDelay || k.Level != s.knobs.Level {
		t.Fatalf("lapsed knobs not back to the configuration: %+v", k)
	}
	snap, _ := s.store.Load(ctx)
	if _, ok := snap.Knobs[decide.KnobAssignDelayMs]; ok {
		t.Fatalf("lapsed override still stored: %v", snap.Knobs)
	}
	// DEFAULT for the level deletes its override too.
	if _, _, err := s.ctl.MetaLevel(ctx, "lively", KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if _, cur, err := s.ctl.MetaLevel(ctx, "DEFAULT", KnobLease{}); err != nil || cur != s.knobs.Level {
		t.Fatalf("level DEFAULT: %v %v", cur, err)
	}
	if strings.Contains(list(), "function_level") {
		t.Fatalf("level override left: %s", list())
	}
}
