package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// TestPushSink checks that a controller with a PushSink hands every push to
// it before the change returns, on the calling goroutine, and sends nothing
// through its ReplicaAdmin: the whole-system simulation relies on both to
// stay deterministic.
func TestPushSink(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.steps(1)
	s.createTable("t", 1, 3)
	s.settle()

	type push struct {
		node   string
		ballot int64
	}
	var got []push
	c, err := NewController(ControllerConfig{Self: "metasink:34601", FD: testFD(), Knobs: s.knobs,
		PushSink: func(node string, configs []decide.PartitionConfig, _ []Table) {
			for _, cfg := range configs {
				got = append(got, push{node, cfg.Ballot})
			}
		}}, s.clock, s.admin, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.lead(c)
	s.ctl = c
	s.settle()
	before := fmt.Sprint(s.admin.pushes)
	got = nil

	primary := s.stored(decide.Gpid{AppID: 1}).Primary
	if _, err := c.MigrateNode(context.Background(), primary, DrainOptions{}); err != nil {
		t.Fatal(err)
	}
	after := s.stored(decide.Gpid{AppID: 1})
	if len(got) != 3 {
		t.Fatalf("sink got %v, want the new configuration for each of the 3 members", got)
	}
	for _, p := range got {
		if p.ballot != after.Ballot {
			t.Fatalf("sink got %v, want ballot %d", got, after.Ballot)
		}
	}
	if a := fmt.Sprint(s.admin.pushes); a != before {
		t.Fatalf("the admin got pushes with a sink set: %s, then %s", before, a)
	}
}
