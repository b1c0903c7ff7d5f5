package pacifica

import "time"

// Config holds a replica's identity and tuning. Zero fields take the defaults
// below. Tick-based fields count calls to Replica.Tick; the driver chooses the
// tick length (100 ms is the intended value, giving the durations quoted).
type Config struct {
	// ID is this replica's node. Required.
	ID NodeID
	// Incarnation identifies this replica's copy of the partition: the
	// driver draws it when it creates the replica's directory and keeps it
	// for the directory's life. Every message the replica sends carries it,
	// so a primary notices when a node answers with a different copy (its
	// data was deleted and recreated) and stops counting what the old copy
	// acknowledged. Zero means unknown: such a replica is treated as one of
	// a version that predates incarnations and leases.
	Incarnation uint64

	// Lease is how long after a message was sent the primary may serve
	// reads on the strength of its acknowledgement (fd_lease_seconds).
	// Default 9 s.
	Lease time.Duration
	// Grace is how long a replica promises, from the moment it accepts a
	// primary's message, not to help another primary commit or serve
	// (fd_grace_seconds). It must exceed Lease, with a margin for the
	// clocks of two machines running at slightly different rates. Default
	// 10 s.
	Grace time.Duration

	// MaxInflight bounds prepared-but-uncommitted mutations on a primary;
	// beyond it Propose fails with ErrCapacityExceeded. Pegasus caps the
	// prepare list at staleness_for_commit=20 ahead of the commit point; 256
	// keeps a batched, pipelined write stream flowing over one slow fsync
	// while still bounding what a new primary must reconcile. Default 256.
	MaxInflight int
	// MinReplicaCount refuses writes while the configuration has fewer
	// members (Pegasus mutation_2pc_min_replica_count). Default 2; set 1 for
	// single-replica tables.
	MinReplicaCount int

	// MaxBatchEntries and MaxBatchBytes bound one prepare message. Entries
	// ready together are batched up to these limits. Defaults 64 and 1 MiB.
	MaxBatchEntries int
	MaxBatchBytes   int

	// CacheEntries and CacheBytes bound the applied entries kept in memory
	// for learners and lagging secondaries (Pegasus LT_CACHE). Older entries
	// are fetched from the on-disk log through Ready.LogReads. Uncommitted
	// entries are always kept. Defaults 1024 and 4 MiB.
	CacheEntries int
	CacheBytes   int

	// GroupCheckTicks is the period of the primary's group check: an empty
	// prepare to idle members that moves their commit point and proves they
	// are alive. Default 10 (1 s).
	GroupCheckTicks int
	// PrepareRetryTicks: a prepare not acknowledged for this long is sent
	// again (and a learner's unanswered learn message too). Default 5.
	PrepareRetryTicks int
	// PrepareTimeoutTicks: a member that makes no progress for this long is
	// reported to the meta server for removal (Pegasus
	// prepare_timeout_ms_for_secondaries = 3 s). Default 30.
	PrepareTimeoutTicks int
	// LearnTimeoutTicks: a learner silent for this long is dropped. It covers
	// a checkpoint copy, during which the learner sends nothing. Default 3000
	// (5 min).
	LearnTimeoutTicks int
	// ProposalRetryTicks: a configuration proposal the meta server has not
	// acted on is sent again after this long. Default 10.
	ProposalRetryTicks int
}

const (
	defaultMaxInflight         = 256
	defaultMinReplicaCount     = 2
	defaultMaxBatchEntries     = 64
	defaultMaxBatchBytes       = 1 << 20
	defaultCacheEntries        = 1024
	defaultCacheBytes          = 4 << 20
	defaultGroupCheckTicks     = 10
	defaultPrepareRetryTicks   = 5
	defaultPrepareTimeoutTicks = 30
	defaultLearnTimeoutTicks   = 3000
	defaultProposalRetryTicks  = 10
	defaultLease               = 9 * time.Second
	defaultGrace               = 10 * time.Second
)

// withDefaults returns c with zero fields replaced by defaults, and checks
// the relations the protocol relies on.
func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxInflight, defaultMaxInflight)
	def(&c.MinReplicaCount, defaultMinReplicaCount)
	def(&c.MaxBatchEntries, defaultMaxBatchEntries)
	def(&c.MaxBatchBytes, defaultMaxBatchBytes)
	def(&c.CacheEntries, defaultCacheEntries)
	def(&c.CacheBytes, defaultCacheBytes)
	def(&c.GroupCheckTicks, defaultGroupCheckTicks)
	def(&c.PrepareRetryTicks, defaultPrepareRetryTicks)
	def(&c.PrepareTimeoutTicks, defaultPrepareTimeoutTicks)
	def(&c.LearnTimeoutTicks, defaultLearnTimeoutTicks)
	def(&c.ProposalRetryTicks, defaultProposalRetryTicks)
	if c.Lease == 0 {
		c.Lease = defaultLease
	}
	if c.Grace == 0 {
		c.Grace = defaultGrace
	}

	switch {
	case c.ID == "":
		return c, errorf(ErrInvalidConfig, "empty ID")
	case c.MaxInflight < 1, c.MinReplicaCount < 1, c.MaxBatchEntries < 1, c.MaxBatchBytes < 1,
		c.CacheEntries < 1, c.CacheBytes < 1, c.GroupCheckTicks < 1,
		c.PrepareRetryTicks < 1, c.PrepareTimeoutTicks < 1, c.LearnTimeoutTicks < 1,
		c.ProposalRetryTicks < 1:
		return c, errorf(ErrInvalidConfig, "negative limit or period")
	case c.Lease < 0 || c.Grace <= c.Lease:
		// A promise shorter than the lease it backs would let a new
		// primary commit while the old one still serves reads.
		return c, errorf(ErrInvalidConfig, "Grace %v must exceed Lease %v", c.Grace, c.Lease)
	case c.PrepareRetryTicks >= c.PrepareTimeoutTicks:
		return c, errorf(ErrInvalidConfig, "PrepareRetryTicks %d >= PrepareTimeoutTicks %d",
			c.PrepareRetryTicks, c.PrepareTimeoutTicks)
	}
	return c, nil
}
