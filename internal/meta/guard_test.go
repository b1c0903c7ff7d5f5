package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Tests of issue 16's findings that the meta server answers: beacons from
// the future (2), fake replica servers (3), ballots above the record (1,
// the meta's side).

// newAdmissionSim is newSim whose leader runs with admission.
func newAdmissionSim(t *testing.T, adm AdmissionConfig, nodes ...string) *sim {
	t.Helper()
	s := newSim(t, nodes...)
	c, err := NewController(ControllerConfig{Self: "meta9:34601", FD: testFD(), Knobs: s.knobs, Admission: adm},
		s.clock, s.admin, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s.ctl.StepDown("meta9:34601")
	s.ctl = c
	s.lead(c)
	return s
}

// Finding 2: one beacon naming a real replica server with a start time a
// century ahead was taken as the node's newest process, and every beacon
// of the real one was refused as "an older process" from then on. Such a
// beacon is now refused at the door, and the real node keeps its lease and
// its roles.
func TestBeaconFromTheFutureRefused(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	s.createTable("t", 4, 3)
	s.steps(2)
	svc := &metaService{srv: serverFor(s.ctl)}
	ctx := context.Background()
	forged := &pb.BeaconRequest{
		Node: "n1:1", ProtocolVersion: version.Current().String(),
		StartTimeMs: s.clock.Now().AddDate(100, 0, 0).UnixMilli(),
	}
	resp, err := svc.Beacon(ctx, forged)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAllowed() || resp.GetLeaseMs() != 0 || resp.GetError().GetCode() != pb.ErrorCode_ERR_REJECT ||
		!strings.Contains(resp.GetError().GetMessage(), "ahead of the meta server's clock") {
		t.Fatalf("beacon from the future answered %v", resp)
	}
	// The real process carries on: allowed, leased, roles intact.
	for range 3 {
		s.step()
		r := s.beacon(s.ctl, "n1:1")
		if !r.Allowed || r.Lease == 0 {
			t.Fatalf("the real n1:1 after a forged beacon: %+v", r)
		}
	}
	s.checkHealthy("t")
	// A clock a little ahead is fine.
	near := &pb.BeaconRequest{Node: "n9:1", ProtocolVersion: version.Current().String(), StartTimeMs: s.clock.Now().Add(10 * time.Second).UnixMilli()}
	if resp, _ := svc.Beacon(ctx, near); !resp.GetAllowed() {
		t.Fatalf("a start time 10 s ahead was refused: %v", resp)
	}
}

// Finding 3: 20,000 fake replica servers that only beacon were taken in;
// once they went silent the meta froze ("3 of 20003 alive") and never
// forgot them. With the white list they are refused before the failure
// detector sees them: the meta's node count stays 3, it remembers at most
// maxRefusedRecords of them, and it does not freeze. (Without the white
// list the fakes are taken in: docs/security.md, Plaintext clusters.)
func TestFakeReplicaFloodRefusedByWhiteList(t *testing.T) {
	real := []string{"n1:1", "n2:1", "n3:1"}
	s := newAdmissionSim(t, AdmissionConfig{Enabled: true, Nodes: real}, real...)
	s.settle()
	proto := version.Current().String()
	for i := range 20000 {
		r := s.ctl.Beacon(Beacon{Node: fmt.Sprintf("10.9.%d.%d:34801", i/250, i%250), Protocol: proto, StartTime: s.clock.Now()})
		if r.Allowed || !errors.Is(r.Err, ErrNotAdmitted) {
			t.Fatalf("fake node %d: %+v", i, r)
		}
	}
	if alive, total := s.ctl.fd.Counts(); alive != 3 || total != 3 {
		t.Fatalf("failure detector counts %d alive of %d after the flood", alive, total)
	}
	if n := len(s.ctl.guard.admission.refused); n > maxRefusedRecords {
		t.Fatalf("%d refused senders remembered", n)
	}
	if n := s.ctl.BeaconSenders(); n != 3 {
		t.Fatalf("%d beacon senders recorded", n)
	}
	// Time passes: nothing to freeze on.
	rep := s.step()
	s.steps(int(testFD().Grace/time.Second) + 1)
	rep = s.step()
	if rep.Plan.Freeze.Reason != "" {
		t.Fatalf("meta froze after the flood: %s", rep.Plan.Freeze.Reason)
	}
	s.createTable("t", 4, 3)
	s.steps(2)
	s.checkHealthy("t")
}

// A replica server outside the white list never gets a partition and is
// not counted; added at run time it joins, removed again it is refused,
// loses its roles and is forgotten.
func TestWhiteListAtRunTime(t *testing.T) {
	s := newAdmissionSim(t, AdmissionConfig{Enabled: true, Nodes: []string{"n1:1", "n2:1", "n3:1"}}, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	s.createTable("t", 8, 3)
	s.steps(3)
	s.checkHealthy("t")
	owns := func(node string) int { return s.ctl.cache.layout.Load(node).Roles() }
	if owns("n4:1") != 0 {
		t.Fatal("a replica server off the white list got a partition")
	}
	if _, total := s.ctl.fd.Counts(); total != 3 {
		t.Fatalf("%d nodes counted, want the 3 admitted", total)
	}
	ctx := context.Background()
	out, err := s.ctl.RemoteCommand(ctx, "fd.allow_list", nil, KnobLease{})
	var view allowListJSON
	if err != nil || json.Unmarshal([]byte(out), &view) != nil || !view.Enabled || len(view.Nodes) != 3 || view.Refused["n4:1"] == nil {
		t.Fatalf("fd.allow_list = %s, %v", out, err)
	}

	// Admit n4 and let the balancer use it.
	if _, err := s.ctl.RemoteCommand(ctx, "fd.allow_list", []string{"add", "n4:1"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if r := s.beacon(s.ctl, "n4:1"); !r.Allowed {
		t.Fatalf("n4 after being added: %+v", r)
	}
	// The list survives a leader change (it is stored).
	c2, err := NewController(ControllerConfig{Self: "meta8:34601", FD: testFD(), Knobs: s.knobs}, s.clock, s.admin, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	s.ctl.StepDown("meta8:34601")
	s.ctl = c2
	s.lead(c2)
	if !c2.guard.admission.admits("n4:1") || c2.guard.admission.admits("n5:1") {
		t.Fatalf("white list after a leader change: %+v", c2.guard.admission.config())
	}
	s.settle()

	// Take n1 off: refused, dead after the grace, cured (at once: no
	// waiting for it to come back), forgotten.
	if _, err := s.ctl.RemoteCommand(ctx, decide.KnobAssignDelayMs, []string{"0"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ctl.RemoteCommand(ctx, "fd.allow_list", []string{"remove", "n1:1"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if r := s.beacon(s.ctl, "n1:1"); r.Allowed {
		t.Fatal("n1 still allowed after removal")
	}
	s.node("n1:1").down = true
	deadline := s.clock.Now().Add(time.Minute)
	for owns("n1:1") > 0 || s.ctl.fd.Alive("n1:1") {
		if s.clock.Now().After(deadline) {
			t.Fatalf("n1 still holds %d roles", owns("n1:1"))
		}
		s.step()
	}
	s.step()
	if _, known := s.ctl.fd.Node("n1:1"); known {
		t.Fatal("a removed, dead, roleless node is still counted")
	}
	s.steps(3)
	s.checkHealthy("t")
}

// Finding 1, the meta's side: a replica holding a configuration at a
// ballot above the record is reported (gauge, ls -d, warning) and
// meta.repair_ballot rewrites the partition above it.
func TestBallotAboveRecordReportedAndRepaired(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	tb := s.createTable("t", 2, 3)
	s.steps(2)
	g := decide.Gpid{AppID: tb.AppID, Index: 0}
	record := s.stored(g)
	// A forged configuration reached one secondary: a fake primary at 2^40.
	victim := record.Secondaries[0]
	n := s.node(victim)
	s.admin.mu.Lock()
	forged := record.Clone()
	forged.Ballot, forged.Primary = 1<<40, "10.6.6.6:34801"
	n.reps[g].cfg = forged
	s.admin.mu.Unlock()
	s.step()

	tables, err := s.ctl.ListTables()
	if err != nil || len(tables) != 1 || tables[0].BallotAboveRecord != 1 {
		t.Fatalf("ls -d: %+v, %v", tables, err)
	}
	if v := testutil.ToFloat64(s.ctl.cfg.Metrics.BallotAboveRecord); v != 1 {
		t.Fatalf("gauge = %v", v)
	}
	out, err := s.ctl.RemoteCommand(context.Background(), "meta.repair_ballot", nil, KnobLease{})
	if err != nil || !strings.Contains(out, fmt.Sprintf("ballot %d -> %d", record.Ballot, int64(1<<40)+1)) {
		t.Fatalf("repair: %q, %v", out, err)
	}
	s.steps(2)
	repaired := s.stored(g)
	if repaired.Ballot != 1<<40+1 || repaired.Primary != record.Primary {
		t.Fatalf("after repair: %s", repaired)
	}
	// Every member holds the real configuration again, the victim too.
	s.checkHealthy("t")
	if tables, _ := s.ctl.ListTables(); tables[0].BallotAboveRecord != 0 {
		t.Fatal("claim still reported after the repair")
	}
}
