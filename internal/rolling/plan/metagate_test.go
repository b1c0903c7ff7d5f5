package plan

import (
	"errors"
	"strings"
	"testing"
)

// TestMetaGateHoldsTheNextMeta: a restarted meta server that answers RPCs
// but cannot take over (it cannot reach etcd and so is not registered, or
// its new configuration names another cluster and it leads that one) must
// stop the roll before the next meta server, here the leader, goes: else
// the cluster is left with no standby, or with two leaders.
func TestMetaGateHoldsTheNextMeta(t *testing.T) {
	for _, tc := range []struct {
		fault  string
		reason string
	}{
		{"meta-no-etcd", "m2 is not registered with the leader m1"},
		{"meta-wrong-cluster", "m2 serves cluster other"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r1", "r2", "r3"}, 2, 4, "", "1.0", "lively")
			p, err := Build(c.snapshot(""), Options{Nodes: []string{"m1", "m2"}})
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{c: c, m: NewMachine(p)}
			c.faults[tc.fault+" m2"] = "injected"
			h.run(3600, func() bool { return false })
			if h.m.Status() != StatusFailed || !strings.Contains(h.m.Reason(), tc.reason) {
				t.Fatalf("status %s, reason %q; want failed with %q", h.m.Status(), h.m.Reason(), tc.reason)
			}
			if !c.server("m1").running || c.leader != "m1" {
				t.Fatalf("the leader was restarted with no standby: running=%v leader=%q", c.server("m1").running, c.leader)
			}
			for i, s := range h.m.State().Plan.Steps {
				if s.Kind == KindStop && s.Node == "m1" && h.m.State().Steps[i].Status != StepSkipped {
					t.Fatalf("m1's stop %s", h.m.State().Steps[i].Status)
				}
			}
		})
	}
}

// A single meta server has no standby: its restart leaves the cluster
// without one, replica leases run out and every request fails until it is
// back. Refused unless allowed; and a meta server running the cluster's
// etcd inside its own process is refused with the reason.
func TestBuildRefusesUnsafeMetaRestarts(t *testing.T) {
	s := testSnapshot()
	s.Metas = s.Metas[:1]
	if _, err := Build(s, Options{}); !errors.Is(err, ErrSingleMeta) {
		t.Fatalf("single meta: %v", err)
	}
	if _, err := Build(s, Options{AllowSingleMeta: true}); err != nil {
		t.Fatalf("single meta allowed: %v", err)
	}
	if _, err := Build(s, Options{Nodes: []string{"r1"}}); err != nil {
		t.Fatalf("single meta not restarted: %v", err)
	}
	s = testSnapshot()
	s.Metas[1].EmbeddedEtcd = true
	_, err := Build(s, Options{})
	if !errors.Is(err, ErrEmbeddedEtcd) || !strings.Contains(err.Error(), "m2") {
		t.Fatalf("embedded etcd: %v", err)
	}
	if _, err := Build(s, Options{Nodes: []string{"r1", "r2", "r3", "m1"}}); err != nil {
		t.Fatalf("embedded etcd meta left out: %v", err)
	}
}
