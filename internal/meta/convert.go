package meta

import (
	"slices"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Conversions between the wire types and the decision core's. decide's
// enums are numbered as the wire's, which the tests check.

func gpidToPB(g decide.Gpid) *pb.Gpid { return &pb.Gpid{AppId: g.AppID, PartitionIndex: g.Index} }

func gpidFromPB(g *pb.Gpid) decide.Gpid {
	return decide.Gpid{AppID: g.GetAppId(), Index: g.GetPartitionIndex()}
}

func configToPB(c decide.PartitionConfig) *pb.PartitionConfiguration {
	return &pb.PartitionConfiguration{
		Gpid:                gpidToPB(c.Gpid),
		Ballot:              c.Ballot,
		MaxReplicaCount:     c.MaxReplicaCount,
		Primary:             c.Primary,
		Secondaries:         slices.Clone(c.Secondaries),
		LastDrops:           slices.Clone(c.LastDrops),
		LastCommittedDecree: c.LastCommittedDecree,
		Learners:            slices.Clone(c.Learners),
		PrimaryBounds:       primaryBoundsToPB(c),
	}
}

// primaryBoundsToPB lists the bounds recorded for c's dropped nodes
// (decide.DropDetail.MinPrimaryBallot).
func primaryBoundsToPB(c decide.PartitionConfig) []*pb.NodeBallot {
	var out []*pb.NodeBallot
	for i, n := range c.LastDrops {
		if i < len(c.LastDropDetails) && c.LastDropDetails[i].MinPrimaryBallot > 0 {
			out = append(out, &pb.NodeBallot{Node: n, Ballot: c.LastDropDetails[i].MinPrimaryBallot})
		}
	}
	return out
}

func configFromPB(c *pb.PartitionConfiguration) decide.PartitionConfig {
	return decide.PartitionConfig{
		Gpid:                gpidFromPB(c.GetGpid()),
		Ballot:              c.GetBallot(),
		MaxReplicaCount:     c.GetMaxReplicaCount(),
		Primary:             c.GetPrimary(),
		Secondaries:         slices.Clone(c.GetSecondaries()),
		Learners:            slices.Clone(c.GetLearners()),
		LastDrops:           slices.Clone(c.GetLastDrops()),
		LastCommittedDecree: c.GetLastCommittedDecree(),
	}
}

func tableToPB(t Table) *pb.TableInfo {
	out := &pb.TableInfo{
		Name:           t.Name,
		AppId:          t.AppID,
		PartitionCount: t.PartitionCount,
		ReplicaCount:   t.ReplicaCount,
		Status:         pb.TableStatus(t.Status),
		Envs:           t.Envs,
		EnvsRevision:   t.EnvsRevision,
	}
	if !t.CreateTime.IsZero() {
		out.CreateTimeMs = t.CreateTime.UnixMilli()
	}
	return out
}

func reportFromPB(r *pb.ReplicaReport) decide.ReplicaReport {
	return decide.ReplicaReport{
		Gpid:                gpidFromPB(r.GetGpid()),
		Status:              decide.PartitionStatus(r.GetStatus()),
		Ballot:              r.GetBallot(),
		MemberBallot:        r.GetMemberBallot(),
		LastCommittedDecree: r.GetLastCommittedDecree(),
		LastPreparedDecree:  r.GetLastPreparedDecree(),
		LastDurableDecree:   r.GetLastDurableDecree(),
		Incarnation:         r.GetIncarnation(),
		MinPrimaryBallot:    r.GetMinPrimaryBallot(),
	}
}

func reportToPB(r decide.ReplicaReport) *pb.ReplicaReport {
	return &pb.ReplicaReport{
		Gpid:                gpidToPB(r.Gpid),
		Status:              pb.PartitionStatus(r.Status),
		Ballot:              r.Ballot,
		MemberBallot:        r.MemberBallot,
		LastCommittedDecree: r.LastCommittedDecree,
		LastPreparedDecree:  r.LastPreparedDecree,
		LastDurableDecree:   r.LastDurableDecree,
		Incarnation:         r.Incarnation,
		MinPrimaryBallot:    r.MinPrimaryBallot,
	}
}

// ConfigToPB is configToPB for the whole-system simulation (internal/sim),
// whose replica servers take configurations through the wire type as the
// real ones do, so that a field added on the wire reaches them too.
func ConfigToPB(c decide.PartitionConfig) *pb.PartitionConfiguration { return configToPB(c) }
