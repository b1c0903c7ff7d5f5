package meta

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// TestPrimaryBoundsReachTheReplicas: the bound a dropped node reported is
// stored with its drop and sent with every configuration that still lists
// the drop, so the replicas stop waiting out that node's read lease; a
// drop without one sends none. Reports carry the bound both ways.
func TestPrimaryBoundsReachTheReplicas(t *testing.T) {
	g := decide.Gpid{AppID: 1, Index: 2}
	c := decide.PartitionConfig{
		Gpid: g, Ballot: 5, MaxReplicaCount: 3, Primary: "n2", Secondaries: []string{"n3"},
		LastDrops: []string{"n4", "n1"},
		LastDropDetails: []decide.DropDetail{
			{MemberBallot: 2},
			{MemberBallot: 4, Incarnation: 9, MinPrimaryBallot: 5},
		},
	}
	stored, err := decodePartition("k", g, encodePartition(c))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.LastDropDetails) != 2 || stored.LastDropDetails[1] != c.LastDropDetails[1] {
		t.Fatalf("stored drop details %+v, want %+v", stored.LastDropDetails, c.LastDropDetails)
	}
	bounds := configToPB(stored).GetPrimaryBounds()
	if len(bounds) != 1 || bounds[0].GetNode() != "n1" || bounds[0].GetBallot() != 5 {
		t.Fatalf("primary bounds on the wire: %v, want n1@5 only", bounds)
	}
	rep := decide.ReplicaReport{Gpid: g, Ballot: 4, MemberBallot: 4, Incarnation: 9, MinPrimaryBallot: 5}
	if got := reportFromPB(reportToPB(rep)); got != rep {
		t.Fatalf("report round trip: %+v, want %+v", got, rep)
	}
}
