package plan

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/version"
)

// TestCompatibilityAgreesWithMeta: the planner accepts an upgrade exactly
// when every running server and the new binary may serve side by side by
// the meta server's own admission rule. Were the two rules to differ, a
// roll the planner accepted would see its first upgraded replica server
// refused by the meta server (or the meta server refused by its replicas)
// and left out of the cluster half-way through.
func TestCompatibilityAgreesWithMeta(t *testing.T) {
	versions := []string{"0.9", "1.0", "1.1", "1.2", "1.3", "2.0", "2.1"}
	for _, running := range versions {
		for _, next := range versions {
			t.Run(fmt.Sprintf("%s->%s", running, next), func(t *testing.T) {
				s := testSnapshot()
				for i := range s.Metas {
					s.Metas[i].Version = running
				}
				for i := range s.Replicas {
					s.Replicas[i].Version = running
				}
				s.Collector.Version = running
				s.NewVersion = next
				_, err := Build(s, Options{Upgrade: true})
				planned := err == nil
				if err != nil && !errors.Is(err, ErrIncompatibleProtocol) {
					t.Fatalf("Build: %v", err)
				}
				r, _ := version.ParseProtocol(running)
				n, _ := version.ParseProtocol(next)
				// Both directions must hold mid-roll: an old meta server
				// admits a new replica server, and a new meta server the
				// old replica servers.
				admitted := decideAdmits(r, n) && decideAdmits(n, r)
				if planned != admitted {
					t.Fatalf("planner accepts %s -> %s: %v; meta server admits: %v", running, next, planned, admitted)
				}
			})
		}
	}
}

// decideAdmits runs a beacon of a replica server speaking node through a
// failure detector of a meta server speaking meta.
func decideAdmits(meta, node version.Protocol) bool {
	cfg := decide.DefaultFDConfig()
	cfg.Protocol = meta
	fd, err := decide.NewFailureDetector(cfg)
	if err != nil {
		panic(err)
	}
	return fd.Beacon(epoch, decide.Beacon{Node: "n1", Protocol: node, StartTime: epoch}).Allowed
}
