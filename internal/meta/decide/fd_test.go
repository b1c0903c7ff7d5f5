package decide

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/version"
)

var proto = version.Protocol{Major: 1, Minor: 4}

func testFD(t testing.TB) *FailureDetector {
	t.Helper()
	cfg := DefaultFDConfig()
	cfg.Protocol = proto
	fd, err := NewFailureDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A leader settled long ago, so tests see plain timeout behaviour.
	fd.SetLeader(t0.Add(-time.Hour), true, "meta1", nil)
	return fd
}

func beacon(node string, start time.Time) Beacon {
	return Beacon{Node: node, Protocol: proto, StartTime: start}
}

func TestFDConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		beacon, lease, grace time.Duration
		err                  error
		mentions             []string
	}{
		{3 * time.Second, 9 * time.Second, 10 * time.Second, nil, nil},
		{3 * time.Second, 10 * time.Second, 10 * time.Second, ErrLeaseNotBelowGrace, []string{"10s", "10s"}},
		{3 * time.Second, 20 * time.Second, 10 * time.Second, ErrLeaseNotBelowGrace, []string{"fd_lease_seconds=20s", "fd_grace_seconds=10s"}},
		{9 * time.Second, 9 * time.Second, 10 * time.Second, ErrBeaconNotBelowLease, []string{"9s"}},
		{0, 9 * time.Second, 10 * time.Second, ErrInvalidFDConfig, nil},
	} {
		cfg := DefaultFDConfig()
		cfg.BeaconInterval, cfg.Lease, cfg.Grace = tc.beacon, tc.lease, tc.grace
		_, err := NewFailureDetector(cfg)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("beacon %v lease %v grace %v: %v, want %v", tc.beacon, tc.lease, tc.grace, err, tc.err)
			continue
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error %q does not mention %q", err, m)
			}
		}
	}
}

// TestFDTiming: a node is alive while now - lastBeacon <= grace and dead
// exactly after.
func TestFDTiming(t *testing.T) {
	grace := DefaultFDConfig().Grace
	for _, tc := range []struct {
		since     time.Duration
		wantAlive bool
	}{
		{0, true},
		{grace - time.Nanosecond, true},
		{grace, true},
		{grace + time.Nanosecond, false},
		{2 * grace, false},
	} {
		t.Run(tc.since.String(), func(t *testing.T) {
			fd := testFD(t)
			fd.Beacon(t0, beacon("n1", t0))
			if ev := fd.Check(t0); len(ev) != 1 || ev[0].Kind != NodeAlive {
				t.Fatalf("first check: %v", ev)
			}
			ev := fd.Check(t0.Add(tc.since))
			if got := fd.Alive("n1"); got != tc.wantAlive {
				t.Fatalf("alive after %v = %v, want %v", tc.since, got, tc.wantAlive)
			}
			if tc.wantAlive && len(ev) != 0 {
				t.Fatalf("events %v", ev)
			}
			if !tc.wantAlive && (len(ev) != 1 || ev[0].Kind != NodeDead || ev[0].Cause != CauseTimeout) {
				t.Fatalf("events %v, want one death by timeout", ev)
			}
		})
	}
}

func TestFDBeaconKeepsAlive(t *testing.T) {
	fd := testFD(t)
	cfg := fd.Config()
	now := t0
	fd.Beacon(now, beacon("n1", t0))
	fd.Check(now)
	// Beacons every interval keep the node alive indefinitely.
	for i := 0; i < 100; i++ {
		now = now.Add(cfg.BeaconInterval)
		ack := fd.Beacon(now, beacon("n1", t0))
		if !ack.Allowed || !ack.LeaseExpiry.Equal(now.Add(cfg.Lease)) || ack.Reason != nil {
			t.Fatalf("ack %+v", ack)
		}
		if ev := fd.Check(now.Add(cfg.BeaconInterval)); len(ev) != 0 {
			t.Fatalf("events %v", ev)
		}
	}
}

func TestFDProtocol(t *testing.T) {
	for _, tc := range []struct {
		node version.Protocol
		ok   bool
	}{
		{version.Protocol{Major: 1, Minor: 4}, true},
		{version.Protocol{Major: 1, Minor: 3}, true},
		{version.Protocol{Major: 1, Minor: 5}, true},
		{version.Protocol{Major: 1, Minor: 2}, false},
		{version.Protocol{Major: 1, Minor: 6}, false},
		{version.Protocol{Major: 2, Minor: 4}, false},
		{version.Protocol{Major: 0, Minor: 4}, false},
	} {
		fd := testFD(t)
		ack := fd.Beacon(t0, Beacon{Node: "n1", Protocol: tc.node, StartTime: t0})
		if ack.Allowed != tc.ok {
			t.Errorf("node %v: allowed=%v, want %v (%v)", tc.node, ack.Allowed, tc.ok, ack.Reason)
		}
		if !tc.ok {
			if !errors.Is(ack.Reason, ErrProtocolIncompatible) || !strings.Contains(ack.Reason.Error(), tc.node.String()) {
				t.Errorf("node %v: reason %v", tc.node, ack.Reason)
			}
			// A refused node is not recorded: it never becomes alive.
			fd.Check(t0)
			if fd.Alive("n1") || !ack.LeaseExpiry.IsZero() {
				t.Errorf("node %v: refused node alive or leased", tc.node)
			}
		}
	}
}

// TestFDRestartFence: a new start time fences the node; it is reported dead
// (cause restart) and gets no lease until unfenced.
func TestFDRestartFence(t *testing.T) {
	fd := testFD(t)
	fd.Beacon(t0, beacon("n1", t0))
	fd.Check(t0)
	restart := t0.Add(30 * time.Minute)
	now := t0.Add(2 * time.Second)
	if ack := fd.Beacon(t0.Add(time.Second), beacon("n1", t0)); ack.Restarted {
		t.Fatalf("a beacon of the same process reported as a restart: %+v", ack)
	}
	ack := fd.Beacon(now, beacon("n1", restart))
	if !ack.Allowed || !ack.LeaseExpiry.IsZero() || !errors.Is(ack.Reason, ErrNodeFenced) || !ack.Restarted {
		t.Fatalf("ack after restart %+v", ack)
	}
	ev := fd.Check(now)
	if len(ev) != 1 || ev[0].Kind != NodeDead || ev[0].Cause != CauseRestart {
		t.Fatalf("events %v", ev)
	}
	if got := fd.Fenced(); len(got) != 1 || got[0] != "n1" {
		t.Fatalf("fenced %v", got)
	}
	// Beacons keep coming: still no lease, still dead.
	now = now.Add(3 * time.Second)
	if ack := fd.Beacon(now, beacon("n1", restart)); !ack.LeaseExpiry.IsZero() {
		t.Fatalf("fenced node got a lease")
	}
	if ev := fd.Check(now); len(ev) != 0 || fd.Alive("n1") {
		t.Fatalf("fenced node revived: %v", ev)
	}
	fd.Unfence("n1")
	if ev := fd.Check(now); len(ev) != 1 || ev[0].Kind != NodeAlive {
		t.Fatalf("after unfence: %v", ev)
	}
	if ack := fd.Beacon(now, beacon("n1", restart)); ack.LeaseExpiry.IsZero() {
		t.Fatalf("unfenced node got no lease")
	}

	// A delayed beacon from the old process is refused.
	if ack := fd.Beacon(now, beacon("n1", t0)); ack.Allowed || !errors.Is(ack.Reason, ErrStaleIncarnation) {
		t.Fatalf("old incarnation: %+v", ack)
	}
}

// TestFDTimeoutFence: a node declared dead stays fenced (no lease) when it
// beacons again, until unfenced.
func TestFDTimeoutFence(t *testing.T) {
	fd := testFD(t)
	fd.Beacon(t0, beacon("n1", t0))
	fd.Check(t0)
	late := t0.Add(fd.Config().Grace + time.Second)
	fd.Check(late)
	if fd.Alive("n1") {
		t.Fatal("alive after grace")
	}
	if ack := fd.Beacon(late, beacon("n1", t0)); !ack.LeaseExpiry.IsZero() || !errors.Is(ack.Reason, ErrNodeFenced) {
		t.Fatalf("dead node leased: %+v", ack)
	}
	if ev := fd.Check(late); len(ev) != 0 {
		t.Fatalf("dead fenced node revived: %v", ev)
	}
	fd.Unfence("n1")
	if ev := fd.Check(late); len(ev) != 1 || ev[0].Kind != NodeAlive {
		t.Fatalf("after unfence %v", ev)
	}
}

func TestFDUnstableRestarts(t *testing.T) {
	fd := testFD(t)
	cfg := fd.Config()
	now, start := t0, t0
	fd.Beacon(now, beacon("n1", start))
	for i := 1; i <= cfg.MaxUnstableRestarts; i++ {
		now = now.Add(time.Minute)
		start = now
		fd.Unfence("n1")
		ack := fd.Beacon(now, beacon("n1", start))
		if refused := !ack.Allowed; refused != (i == cfg.MaxUnstableRestarts) {
			t.Fatalf("restart %d: allowed=%v reason=%v", i, ack.Allowed, ack.Reason)
		}
		if !ack.Allowed && !errors.Is(ack.Reason, ErrUnstableNode) {
			t.Fatalf("reason %v", ack.Reason)
		}
	}
	// The refused process keeps running; once it has run for StableRunning
	// its beacons are accepted again.
	now = start.Add(cfg.StableRunning)
	if ack := fd.Beacon(now, beacon("n1", start)); !ack.Allowed {
		t.Fatalf("stable node still refused: %v", ack.Reason)
	}
	// A restart long after the previous start is stable.
	now = now.Add(time.Hour)
	if ack := fd.Beacon(now, beacon("n1", now)); !ack.Allowed {
		t.Fatalf("stable restart refused: %v", ack.Reason)
	}
	if st, _ := fd.Node("n1"); st.UnstableRestarts != 0 {
		t.Fatalf("unstable count %d", st.UnstableRestarts)
	}
}

// TestFDLeaderChange: a new leader presumes every node alive for one grace
// period, grants leases only as leader, and is not Settled until then.
func TestFDLeaderChange(t *testing.T) {
	cfg := DefaultFDConfig()
	cfg.Protocol = proto
	fd, err := NewFailureDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fd.SetLeader(t0, false, "meta2", nil)
	ack := fd.Beacon(t0, beacon("n1", t0))
	if !ack.Allowed || ack.IsLeader || ack.Leader != "meta2" || !ack.LeaseExpiry.IsZero() || !errors.Is(ack.Reason, ErrNotLeader) {
		t.Fatalf("follower ack %+v", ack)
	}
	// Long silence while a follower: dead (and fenced) in its own view.
	fd.Check(t0)
	fd.Check(t0.Add(time.Minute))
	if fd.Alive("n1") {
		t.Fatal("n1 alive")
	}
	took := t0.Add(time.Minute)
	fd.SetLeader(took, true, "meta1", []string{"n1", "n2"})
	if fd.Settled(took.Add(cfg.Grace)) || !fd.Settled(took.Add(cfg.Grace+time.Nanosecond)) {
		t.Fatal("settling period is not one grace")
	}
	// n2 was never heard of, n1 was dead: both presumed alive for a grace.
	for _, n := range []string{"n1", "n2"} {
		if !fd.Alive(n) {
			t.Fatalf("%s not presumed alive", n)
		}
	}
	if ev := fd.Check(took.Add(cfg.Grace)); len(ev) != 0 {
		t.Fatalf("death within the first grace after takeover: %v", ev)
	}
	fd.Beacon(took.Add(time.Second), beacon("n1", t0))
	ev := fd.Check(took.Add(cfg.Grace + time.Nanosecond))
	if len(ev) != 1 || ev[0].Node != "n2" || ev[0].Kind != NodeDead {
		t.Fatalf("events %v, want n2 dead", ev)
	}
	if ack := fd.Beacon(took.Add(2*time.Second), beacon("n1", t0)); !ack.IsLeader || ack.LeaseExpiry.IsZero() {
		t.Fatalf("leader ack %+v", ack)
	}
}

func TestFDReportsAndForget(t *testing.T) {
	fd := testFD(t)
	g := Gpid{3, 1}
	b := beacon("n1", t0)
	b.Replicas = []ReplicaReport{{Gpid: Gpid{3, 0}}, {Gpid: g, Status: StatusSecondary, LastCommittedDecree: 42}}
	fd.Beacon(t0, b)
	if r, ok := fd.Report("n1", g); !ok || r.LastCommittedDecree != 42 {
		t.Fatalf("report %+v %v", r, ok)
	}
	// A newer beacon replaces the reports.
	b.Replicas = []ReplicaReport{{Gpid: g, LastCommittedDecree: 50}}
	fd.Beacon(t0.Add(time.Second), b)
	if r, _ := fd.Report("n1", g); r.LastCommittedDecree != 50 {
		t.Fatalf("stale report %+v", r)
	}
	if _, ok := fd.Report("n1", Gpid{3, 0}); ok {
		t.Fatal("report of a dropped replica kept")
	}
	fd.Check(t0)
	if fd.Forget("n1") {
		t.Fatal("forgot an alive node")
	}
	fd.Check(t0.Add(time.Hour))
	if !fd.Forget("n1") {
		t.Fatal("could not forget a dead node")
	}
	if _, total := fd.Counts(); total != 0 {
		t.Fatalf("total %d", total)
	}
}

func TestFDDeterministicEvents(t *testing.T) {
	fd := testFD(t)
	for i := 9; i >= 0; i-- {
		fd.Beacon(t0, beacon(fmt.Sprintf("n%d", i), t0))
	}
	ev := fd.Check(t0)
	for i, e := range ev {
		if e.Node != fmt.Sprintf("n%d", i) {
			t.Fatalf("events out of order: %v", ev)
		}
	}
	if got := fd.AliveNodes(); len(got) != 10 || got[0] != "n0" || got[9] != "n9" {
		t.Fatalf("alive nodes %v", got)
	}
}
