package shell

import "github.com/pegasus-go/pegasus/internal/rpc/pb"

// partitionHealth classifies one partition the way Pegasus' `app -d` and
// `ls -d` do:
//
//   - fully healthy: a primary and at least max_replica_count replicas;
//   - write unhealthy: no primary, or fewer than two replicas (a write
//     would have no second copy);
//   - read unhealthy: no primary (reads are served by the primary only);
//   - unhealthy: anything not fully healthy (e.g. 1 primary + 1 secondary
//     of 3 is unhealthy but neither write nor read unhealthy).
type partitionHealth struct {
	fullyHealthy, unhealthy, writeUnhealthy, readUnhealthy bool
}

func healthOf(pc *pb.PartitionConfiguration) partitionHealth {
	replicas := len(pc.GetSecondaries())
	hasPrimary := pc.GetPrimary() != ""
	if hasPrimary {
		replicas++
	}
	var h partitionHealth
	switch {
	case hasPrimary && replicas >= int(pc.GetMaxReplicaCount()):
		h.fullyHealthy = true
	case hasPrimary && replicas < 2:
		h.writeUnhealthy = true
	case !hasPrimary:
		h.writeUnhealthy, h.readUnhealthy = true, true
	}
	h.unhealthy = !h.fullyHealthy
	return h
}

// healthCounts sums partitionHealth over a table's partitions.
type healthCounts struct {
	FullyHealthy   int `json:"fully_healthy_partition_count"`
	Unhealthy      int `json:"unhealthy_partition_count"`
	WriteUnhealthy int `json:"write_unhealthy_partition_count"`
	ReadUnhealthy  int `json:"read_unhealthy_partition_count"`
}

func countHealth(parts []*pb.PartitionConfiguration) healthCounts {
	var c healthCounts
	for _, pc := range parts {
		h := healthOf(pc)
		c.FullyHealthy += b2i(h.fullyHealthy)
		c.Unhealthy += b2i(h.unhealthy)
		c.WriteUnhealthy += b2i(h.writeUnhealthy)
		c.ReadUnhealthy += b2i(h.readUnhealthy)
	}
	return c
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
