package shell

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestPartitionHealth(t *testing.T) {
	pc := func(max int32, primary string, secondaries ...string) *pb.PartitionConfiguration {
		return &pb.PartitionConfiguration{MaxReplicaCount: max, Primary: primary, Secondaries: secondaries}
	}
	for name, c := range map[string]struct {
		pc   *pb.PartitionConfiguration
		want partitionHealth
	}{
		"full":                     {pc(3, "a", "b", "c"), partitionHealth{fullyHealthy: true}},
		"primary and one of three": {pc(3, "a", "b"), partitionHealth{unhealthy: true}},
		"primary alone of three":   {pc(3, "a"), partitionHealth{unhealthy: true, writeUnhealthy: true}},
		"no primary":               {pc(3, "", "b", "c"), partitionHealth{unhealthy: true, writeUnhealthy: true, readUnhealthy: true}},
		"nothing":                  {pc(3, ""), partitionHealth{unhealthy: true, writeUnhealthy: true, readUnhealthy: true}},
		"single replica table":     {pc(1, "a"), partitionHealth{fullyHealthy: true}},
		"extra secondary":          {pc(3, "a", "b", "c", "d"), partitionHealth{fullyHealthy: true}},
	} {
		if got := healthOf(c.pc); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
	counts := countHealth([]*pb.PartitionConfiguration{pc(3, "a", "b", "c"), pc(3, "a", "b"), pc(3, ""), pc(3, "a")})
	if counts != (healthCounts{FullyHealthy: 1, Unhealthy: 3, WriteUnhealthy: 2, ReadUnhealthy: 1}) {
		t.Errorf("counts %+v", counts)
	}
}
