package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestMachine runs the scripts in testdata/: a fake cluster, a plan built
// from its snapshot, and the machine driven against it on a fake clock.
//
//	cluster metas=(m1,m2) leader=m2 replicas=(r1,r2) primaries=4 secondaries=8 collector=c1 version=1.0 [level=lively] [learn=3]
//	set-version node=r1 version=2.0
//	build [mode=ha|simple] [upgrade=1.1] [nodes=(r1,m1)] [window=1h] [min-availability=0.999] [allow-single-meta] [slo]
//	      [recovery=30s] [resend=10s] [timeout=(kind:base,...)] [quiet]
//	fault kind=migrate-stuck|close-stuck|start-error|install-error|knob-error node=r2 [msg=...]
//	availability value=0.95
//	drop node=r2 count=2               r2 loses two secondaries (cluster unhealthy)
//	step-down-lag node=r1 ticks=3      after migrate_node, r1's own status counts its old primaries 3 more ticks
//	failover to=m2                     the meta leadership moves
//	next [advance=1s]                  one call to Next; prints the actions
//	run [until=done|paused|step:N] [max=N]  one call a second; prints finished steps
//	pause reason=... | resume | abort reason=...
//	crash [executed]                   the orchestrator dies; JSON state into a new machine
//	state | report [json] | knob-log
func TestMachine(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var h harness
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return runDirective(t, &h, td)
		})
	})
}

func runDirective(t *testing.T, h *harness, td *datadriven.TestData) string {
	switch td.Cmd {
	case "cluster":
		var metas, replicas []string
		var leader, collector, version string
		var primaries, secondaries int
		level := "lively"
		td.ScanArgs(t, "metas", &metas)
		td.ScanArgs(t, "leader", &leader)
		td.ScanArgs(t, "replicas", &replicas)
		td.ScanArgs(t, "primaries", &primaries)
		td.ScanArgs(t, "secondaries", &secondaries)
		td.ScanArgs(t, "version", &version)
		td.MaybeScanArgs(t, "collector", &collector)
		td.MaybeScanArgs(t, "level", &level)
		*h = harness{c: newFakeCluster(metas, leader, replicas, primaries, secondaries, collector, version, level)}
		td.MaybeScanArgs(t, "learn", &h.c.learnTicks)
		return h.c.describe()

	case "set-version":
		var node, version string
		td.ScanArgs(t, "node", &node)
		td.ScanArgs(t, "version", &version)
		h.c.server(node).version = version
		return ""

	case "build":
		var o Options
		var mode, upgrade, window, recovery, resend string
		td.MaybeScanArgs(t, "mode", &mode)
		o.Mode = Mode(mode)
		if td.MaybeScanArgs(t, "upgrade", &upgrade) {
			o.Upgrade = true
		}
		o.AllowSingleMeta = td.HasArg("allow-single-meta")
		// The SLO gate (a baseline step, a canary bake) only where a
		// script is about it.
		o.SLO.Off = !td.HasArg("slo")
		td.MaybeScanArgs(t, "nodes", &o.Nodes)
		td.MaybeScanArgs(t, "min-availability", &o.MinAvailability)
		if td.MaybeScanArgs(t, "window", &window) {
			o.MaintenanceWindow = mustDuration(t, window)
		}
		if td.MaybeScanArgs(t, "recovery", &recovery) {
			o.BreachRecovery = mustDuration(t, recovery)
		}
		if td.MaybeScanArgs(t, "resend", &resend) {
			o.ResendInterval = mustDuration(t, resend)
		}
		var timeouts []string
		if td.MaybeScanArgs(t, "timeout", &timeouts) {
			o.Timeouts = map[StepKind]Timeout{}
			for _, kv := range timeouts {
				kind, d, _ := strings.Cut(kv, ":")
				o.Timeouts[StepKind(kind)] = Timeout{Base: mustDuration(t, d)}
			}
		}
		p, err := Build(h.c.snapshot(upgrade), o)
		if err != nil {
			h.m = nil
			return "error: " + err.Error()
		}
		h.m, h.now, h.pending = NewMachine(p), 0, nil
		if td.HasArg("quiet") {
			return fmt.Sprintf("%d steps", len(p.Steps))
		}
		return p.String()

	case "fault":
		var kind, node string
		msg := "injected " + td.CmdArgs[0].String()
		td.ScanArgs(t, "kind", &kind)
		td.ScanArgs(t, "node", &node)
		td.MaybeScanArgs(t, "msg", &msg)
		h.c.faults[kind+" "+node] = msg
		return ""

	case "step-down-lag":
		var node string
		td.ScanArgs(t, "node", &node)
		td.ScanArgs(t, "ticks", &h.c.server(node).stepDownLag)
		return ""

	case "drop":
		// A replica server loses replicas outside the roll's control.
		var node string
		var count int
		td.ScanArgs(t, "node", &node)
		td.ScanArgs(t, "count", &count)
		for _, p := range h.c.parts {
			if i := slices.Index(p.secondaries, node); i >= 0 && count > 0 {
				p.secondaries = slices.Delete(p.secondaries, i, i+1)
				p.dropped = append(p.dropped, node)
				count--
			}
		}
		return h.c.describe()

	case "failover":
		var to string
		td.ScanArgs(t, "to", &to)
		h.c.leader = to
		return ""

	case "clear-faults":
		h.c.faults = map[string]string{}
		return ""

	case "availability":
		td.ScanArgs(t, "value", &h.c.availability)
		return ""

	case "next":
		advance := time.Second
		var s string
		if td.MaybeScanArgs(t, "advance", &s) {
			advance = mustDuration(t, s)
		}
		before := h.m.State()
		actions := h.next(advance)
		var b strings.Builder
		for _, l := range h.transitions(before) {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, "t=%s status %s, actions:\n%s", h.clock(), h.m.Status(), formatActions(actions))
		return b.String()

	case "run":
		until, max := "done", 3600
		td.MaybeScanArgs(t, "until", &until)
		td.MaybeScanArgs(t, "max", &max)
		stop := func() bool { return false }
		switch {
		case until == "done":
		case until == "paused":
			stop = func() bool { return h.m.Status() == StatusPaused }
		case strings.HasPrefix(until, "step:"):
			n, err := strconv.Atoi(strings.TrimPrefix(until, "step:"))
			if err != nil {
				t.Fatalf("bad until: %s", until)
			}
			stop = func() bool {
				cur, _, st, ok := h.m.Current()
				return ok && cur == n && st.Emitted
			}
		default:
			t.Fatalf("bad until: %s", until)
		}
		var b strings.Builder
		for _, l := range h.run(max, stop) {
			b.WriteString(l + "\n")
		}
		return b.String() + h.describeMachine()

	case "pause", "abort":
		var reason string
		td.ScanArgs(t, "reason", &reason)
		var err error
		if td.Cmd == "pause" {
			err = h.m.Pause(epoch.Add(h.now), reason)
		} else {
			err = h.m.Abort(epoch.Add(h.now), reason)
		}
		if err != nil {
			return "error: " + err.Error()
		}
		return h.describeMachine()

	case "resume":
		if err := h.m.Resume(epoch.Add(h.now)); err != nil {
			return "error: " + err.Error()
		}
		return h.describeMachine()

	case "crash":
		if _, err := h.crash(td.HasArg("executed")); err != nil {
			return "error: " + err.Error()
		}
		return "restored from JSON\n" + h.describeMachine()

	case "state":
		return h.describeMachine() + h.c.describe()

	case "report":
		r := h.m.Report()
		if td.HasArg("json") {
			data, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
		return r.Text()

	case "knob-log":
		return strings.Join(h.c.knobLog, "\n")
	}
	t.Fatalf("unknown directive %q", td.Cmd)
	return ""
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q: %v", s, err)
	}
	return d
}
