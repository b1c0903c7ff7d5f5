package plan

import (
	"errors"
	"testing"
	"time"
)

// view is a `nodes -d` / `ls -d` answer for testSnapshot's cluster with r1
// holding primaries primaries.
func view(r1Primaries int) *ClusterView {
	return &ClusterView{
		Nodes: []NodeStatus{
			{Node: "r1", Alive: true, Primaries: r1Primaries, Secondaries: 8},
			{Node: "r2", Alive: true, Primaries: 4, Secondaries: 8},
			{Node: "r3", Alive: true, Primaries: 4, Secondaries: 8},
		},
		Tables: []TableHealth{{AppID: 1, Name: "temp", PartitionCount: 12, FullyHealthy: 12}},
	}
}

func at(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }

func hasCommand(actions []Action, kind ActionKind, step, attempt int) bool {
	for _, a := range actions {
		if a.Kind == kind && a.Step == step && a.Attempt == attempt {
			return true
		}
	}
	return false
}

func current(t *testing.T, m *Machine) (int, StepStatus) {
	t.Helper()
	n, _, st, ok := m.Current()
	if !ok {
		t.Fatal("no current step")
	}
	return n, st.Status
}

// A gate never passes on an observation gathered before its step began:
// here the view that reaches Next together with step 4's acknowledgement
// already shows r1 without primaries, yet migrate (step 5) only passes on
// the next view.
func TestGateWaitsForFreshObservation(t *testing.T) {
	p, err := Build(testSnapshot(), Options{Nodes: []string{"r1"}, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	if a := m.Next(at(1), Observation{}); len(a) == 0 || a[0].Kind != ActQueryCluster {
		t.Fatalf("first actions %v", a)
	}
	// The health gate was emitted at t=1, so this view counts.
	a := m.Next(at(2), Observation{Cluster: view(4)})
	if !hasCommand(a, ActSetMetaLevel, 2, 1) {
		t.Fatalf("step 2 not issued: %v", a)
	}
	m.Next(at(3), Observation{Results: []ActionResult{{Step: 2, Attempt: 1}}})
	m.Next(at(4), Observation{Results: []ActionResult{{Step: 3, Attempt: 1}}})
	a = m.Next(at(5), Observation{Results: []ActionResult{{Step: 4, Attempt: 1}}, Cluster: view(0)})
	if !hasCommand(a, ActMigrateNode, 5, 1) {
		t.Fatalf("migrate not issued: %v", a)
	}
	if n, st := current(t, m); n != 5 || st != StepRunning {
		t.Fatalf("stale view completed migrate: at step %d %s", n, st)
	}
	m.Next(at(6), Observation{Cluster: view(0)})
	if n, _ := current(t, m); n != 5 {
		t.Fatalf("migrate completed without r1's own status: at step %d", n)
	}
	m.Next(at(7), Observation{Cluster: view(0), Replicas: []ReplicaStatus{{Node: "r1", Total: 12, Primaries: 4}}})
	if n, _ := current(t, m); n != 5 {
		t.Fatalf("migrate completed while r1 still leads by its own status: at step %d", n)
	}
	m.Next(at(8), Observation{Cluster: view(0), Replicas: []ReplicaStatus{{Node: "r1", Total: 12}}})
	if n, _ := current(t, m); n != 6 {
		t.Fatalf("fresh view did not complete migrate: at step %d", n)
	}
	// r1's primaries were 0 in the last view before migrate began.
	if st := m.State().Steps[4]; st.Before != 0 || st.Left != 0 {
		t.Fatalf("migrate counted %d before, %d left", st.Before, st.Left)
	}
}

// Results are matched by step and attempt: an answer for another step or
// for an attempt never issued is ignored; any issued attempt's success
// counts, since the commands are idempotent.
func TestResultsMatchStepAndAttempt(t *testing.T) {
	p, err := Build(testSnapshot(), Options{Nodes: []string{"r1"}, ResendInterval: time.Second, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	m.Next(at(1), Observation{})
	m.Next(at(2), Observation{Cluster: view(4)}) // issues 2.1
	a := m.Next(at(3), Observation{Results: []ActionResult{{Step: 2, Attempt: 1, Err: "ERR_TIMEOUT"}}})
	if !hasCommand(a, ActSetMetaLevel, 2, 2) {
		t.Fatalf("failed command not re-issued: %v", a)
	}
	if st := m.State().Steps[1]; st.LastError != "ERR_TIMEOUT" {
		t.Fatalf("last error %q", st.LastError)
	}
	m.Next(at(4), Observation{Results: []ActionResult{
		{Step: 1, Attempt: 1},           // another step
		{Step: 2, Attempt: 7},           // never issued
		{Step: 3, Attempt: 1, Err: "x"}, // a step not begun
	}})
	if n, _ := current(t, m); n != 2 {
		t.Fatalf("foreign results moved the roll to step %d", n)
	}
	m.Next(at(5), Observation{Results: []ActionResult{{Step: 2, Attempt: 1}}}) // a late success of attempt 1
	if n, _ := current(t, m); n != 3 {
		t.Fatalf("success of an earlier attempt ignored: at step %d", n)
	}
}

// The client error counter survives collector restarts, which reset the
// collector's own counter.
func TestClientErrorsAcrossCollectorRestart(t *testing.T) {
	p, err := Build(testSnapshot(), Options{SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	for i, reading := range []uint64{5, 8, 2, 4} {
		m.Next(at(i+1), Observation{Collector: &CollectorStatus{Alive: true, Availability: 1, ClientErrors: reading}})
	}
	// 5 is the baseline; then +3, a restart at 2 (+2), +2.
	if got := m.State().ClientErrors; got != 7 {
		t.Fatalf("client errors %d, want 7", got)
	}
	// A dead collector reports nothing, not zero.
	m.Next(at(9), Observation{Collector: &CollectorStatus{Alive: false}})
	m.Next(at(10), Observation{Collector: &CollectorStatus{Alive: true, Availability: 1, ClientErrors: 6}})
	if got := m.State().ClientErrors; got != 9 {
		t.Fatalf("client errors %d, want 9", got)
	}
}

func TestOperatorCommandErrors(t *testing.T) {
	p, err := Build(testSnapshot(), Options{Nodes: []string{"m2"}, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	if err := m.Abort(at(1), "changed my mind"); err != nil {
		t.Fatal(err)
	}
	// Nothing was touched, so the abort ends the roll at once.
	if m.Status() != StatusAborted {
		t.Fatalf("status %s", m.Status())
	}
	if m.Next(at(2), Observation{}) != nil {
		t.Fatal("a finished roll issued actions")
	}
	for name, err := range map[string]error{
		"pause":  m.Pause(at(3), "x"),
		"resume": m.Resume(at(3)),
		"abort":  m.Abort(at(3), "x"),
	} {
		if !errors.Is(err, ErrFinished) {
			t.Errorf("%s after the end: %v", name, err)
		}
	}
}

// While a node's window is open the report says so and counts its errors
// up to now; at the end the nodes' errors add up to the roll's.
func TestReportOpenWindow(t *testing.T) {
	c := newFakeCluster([]string{"m1"}, "m1", []string{"r1", "r2", "r3"}, 2, 4, "c1", "1.0", "steady")
	p, err := Build(c.snapshot(""), Options{Mode: ModeSimple, AllowSingleMeta: true, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{c: c, m: NewMachine(p)}
	h.run(100, func() bool {
		n, step, _, _ := h.m.Current()
		return step.Kind == KindWaitHealthy && n == 6
	})
	r := h.m.Report()
	if r.Nodes[0].Node != "r1" || r.Nodes[0].Result != "running" || r.Nodes[0].ClientErrors != 20 {
		t.Fatalf("open window: %+v", r.Nodes[0])
	}
	if r.Nodes[1].Result != "pending" {
		t.Fatalf("r2: %+v", r.Nodes[1])
	}
	h.run(3600, func() bool { return false })
	r = h.m.Report()
	var sum uint64
	for _, n := range r.Nodes {
		sum += n.ClientErrors
	}
	if r.Status != StatusSucceeded || sum != r.ClientErrors || sum == 0 {
		t.Fatalf("report %+v", r)
	}
}

// Replica servers beacon the meta leader only, so a restarted follower
// counts none: the gate asks that the follower is up and the leader hears
// every replica server.
func TestWaitMetaReadyCountsTheLeadersBeacons(t *testing.T) {
	p, err := Build(testSnapshot(), Options{Nodes: []string{"m2"}, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	metas := func(leaderBeacons int) []MetaStatus {
		return []MetaStatus{
			{Node: "m1", Alive: true, Leader: true, BeaconsFrom: leaderBeacons, Registered: true},
			{Node: "m2", Alive: true, Registered: true},
		}
	}
	m.Next(at(1), Observation{})
	m.Next(at(2), Observation{Cluster: view(4)})                               // 1: healthy
	m.Next(at(3), Observation{Metas: metas(3)})                                // 2: m2 is a follower
	m.Next(at(4), Observation{Results: []ActionResult{{Step: 3, Attempt: 1}}}) // 3: stopped
	m.Next(at(5), Observation{Results: []ActionResult{{Step: 4, Attempt: 1}}}) // 4: started
	if n, st := current(t, m); n != 5 || st != StepRunning {
		t.Fatalf("at step %d %s, want the wait for m2", n, st)
	}
	m.Next(at(6), Observation{Metas: metas(2)})
	if n, _ := current(t, m); n != 5 || m.State().Steps[4].Observed != "leader m1 has beacons from 2 of 3 replica servers" {
		t.Fatalf("at step %d, observed %q", n, m.State().Steps[4].Observed)
	}
	m.Next(at(7), Observation{Metas: metas(3)})
	if m.Status() != StatusSucceeded {
		t.Fatalf("status %s: %s", m.Status(), m.Reason())
	}
}
