package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestStaggeredSchedules: every position of the primary in the kill
// order, times both restart orders; the reproduction is among them.
func TestStaggeredSchedules(t *testing.T) {
	m2 := Members{Primary: "P", Secondaries: []string{"B"}}
	var got []string
	for _, s := range staggeredSchedules(2) {
		got = append(got, fmt.Sprint(s.killOrder(m2), s.restartOrder(s.killOrder(m2))))
	}
	want := []string{"[B P] [B P]", "[P B] [P B]", "[B P] [P B]", "[P B] [B P]"}
	if !slices.Equal(got, want) {
		t.Fatalf("r=2 schedules %v, want %v", got, want)
	}
	m3 := Members{Primary: "P", Secondaries: []string{"S1", "S2"}}
	got = nil
	for _, s := range staggeredSchedules(3) {
		got = append(got, fmt.Sprint(s.killOrder(m3), s.restartOrder(s.killOrder(m3))))
	}
	want = []string{
		"[S1 S2 P] [S1 S2 P]", "[S1 P S2] [S1 P S2]", "[P S1 S2] [P S1 S2]",
		"[S1 S2 P] [P S2 S1]", "[S1 P S2] [S2 P S1]", "[P S1 S2] [S2 S1 P]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("r=3 schedules %v, want %v", got, want)
	}
}

// TestStaggeredOutage runs the 2-replica scenario on the fake: each
// schedule kills both members with a shrink in between and restarts them
// in its order.
func TestStaggeredOutage(t *testing.T) {
	c := newFakeCluster()
	_, err := Run(context.Background(), mustLookup(t, "staggered-outage"), c, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		// The reproduction: kill the secondary, writes acked by
		// the primary alone, kill the primary, start the stale one first.
		"kill replica1", "kill replica2", "start replica1", "start replica2",
		"kill replica2", "kill replica1", "start replica2", "start replica1",
		"kill replica1", "kill replica2", "start replica2", "start replica1",
		"kill replica2", "kill replica1", "start replica1", "start replica2",
	}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Fatalf("actions\n%v\nwant\n%v", got, want)
	}
}

func TestEtcdOutage(t *testing.T) {
	c := newFakeCluster()
	rep, err := Run(context.Background(), mustLookup(t, "etcd-outage"), c, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Actions(), []string{"kill etcd", "start etcd"}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems %q", rep.Problems)
	}
}

func TestClockStep(t *testing.T) {
	c := newFakeCluster()
	if _, err := Run(context.Background(), mustLookup(t, "clock-step"), c, fakeTarget{c}, fastOptions(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{"clock replica2 30s", "clock replica2 0s", "clock replica2 -30s", "clock replica2 0s", "clock replica2 0s"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

// TestIsolatePrimaryMigrate: the reads move inside the primary's network,
// the primary is cut and migrate_node runs at once, then the heal, and the
// reads go back outside whatever happens.
func TestIsolatePrimaryMigrate(t *testing.T) {
	c := fakeIsolator{fakeCutter: fakeCutter{fakeCluster: newFakeCluster()}}
	rep, err := Run(context.Background(), mustLookup(t, "isolate-primary-migrate"), c, fakeTarget{c.fakeCluster}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"reads inside replica2", "cut replica2", "migrate_node replica2", "heal replica2", "reads outside"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "migrate_node replica2 proposed: fake proposal") }) {
		t.Errorf("notes %q do not show migrate_node's proposals", rep.Notes)
	}

	// The old primary refuses a read during the cut: the reads go back
	// outside at once.
	c = fakeIsolator{fakeCutter: fakeCutter{fakeCluster: newFakeCluster()}, refuses: true}
	rep, err = Run(context.Background(), mustLookup(t, "isolate-primary-migrate"), c, fakeTarget{c.fakeCluster}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"reads inside replica2", "cut replica2", "migrate_node replica2", "reads outside", "heal replica2", "reads outside"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Fatalf("with a refused read: actions %v, want %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.HasPrefix(n, "a read from inside replica2's namespace first failed")
	}) {
		t.Errorf("notes %q do not say when the old primary refused", rep.Notes)
	}

	// A cluster that cannot cut does not run it.
	bad := fakeIsolator{fakeCutter: fakeCutter{fakeCluster: newFakeCluster(), cannot: true}}
	if _, err := Run(context.Background(), mustLookup(t, "isolate-primary-migrate"), bad, fakeTarget{bad.fakeCluster}, fastOptions(t)); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("on a cluster without a cut: err %v, want ErrUnsupported", err)
	}
}
