package pacifica

import "slices"

// NodeID names a replica server, normally its "host:port" address. The core
// only compares NodeIDs; it never dials them.
type NodeID string

// Ballot is a partition configuration version. The meta server bumps it on
// every membership change; a replica refuses anything from a lower ballot.
// Ballot 0 means "no configuration yet".
type Ballot int64

// Decree is the position of a mutation in a partition's history. Decrees are
// assigned by the primary, start at 1 and have no holes.
type Decree int64

// Status is a replica's role in its partition (Pegasus partition_status).
type Status uint8

const (
	// StatusInactive replicas serve nothing. Every replica starts inactive
	// and returns to it when it leaves the configuration or loses its lease.
	StatusInactive Status = iota
	// StatusError replicas detected a state they cannot continue from (for
	// example a replayed log that contradicts the committed history) and wait
	// to be closed.
	StatusError
	// StatusPrimary replicas order writes and drive the two-phase commit.
	StatusPrimary
	// StatusSecondary replicas log what the primary prepares and apply what
	// it commits.
	StatusSecondary
	// StatusPotentialSecondary replicas are learners: they catch up from the
	// primary and become secondaries once they hold everything committed.
	StatusPotentialSecondary
)

func (s Status) String() string {
	switch s {
	case StatusInactive:
		return "inactive"
	case StatusError:
		return "error"
	case StatusPrimary:
		return "primary"
	case StatusSecondary:
		return "secondary"
	case StatusPotentialSecondary:
		return "potential-secondary"
	default:
		return "unknown"
	}
}

// RequestID identifies a client write for exactly-once execution. A client
// retries a write with the same RequestID; the zero value means the write
// carries no identity and is never deduplicated.
type RequestID struct {
	ClientID uint64
	Seq      uint64
}

// IsZero reports whether id is the "no identity" value.
func (id RequestID) IsZero() bool { return id == RequestID{} }

// Entry is one mutation in the replicated log.
//
// (Ballot, Decree) identifies an entry: only the primary of Ballot creates
// entries stamped with it, one per decree, so two entries with the same pair
// are the same mutation. An entry keeps the ballot it was created in when a
// later primary prepares it again; that is what lets a secondary that already
// holds it recognise it and keep it.
type Entry struct {
	Ballot Ballot
	Decree Decree
	// LastCommitted is the primary's commit point when it created the entry.
	// Every decree up to it was committed, which is how a replica that
	// restarts from its log alone knows what it may apply.
	LastCommitted Decree
	// Timestamp is chosen by the primary's driver (its clock at proposal
	// time) so that every replica applies TTLs identically. The core never
	// interprets it.
	Timestamp int64
	RequestID RequestID
	// Data is the opaque mutation payload. The core never modifies it and
	// shares the slice between the log, messages and Ready; drivers must not
	// modify it either.
	Data []byte
}

// Configuration is a partition's membership at one ballot. The meta server
// owns it and pushes it to the replicas through UpdateConfig.
type Configuration struct {
	Ballot      Ballot
	Primary     NodeID
	Secondaries []NodeID
	// PrimaryBounds are facts the meta server learned from the nodes'
	// reports, not membership: node Primary acts as primary at no ballot
	// below Ballot any more (Replica.MinPrimaryBallot: its replica was
	// reopened by a process that had entered no ballot at or above it, and
	// a reopened replica is never primary in a ballot it knew). Every hold
	// on such a node below its bound is void, so a new primary need not
	// wait out the lease of an old primary that crashed and came back
	// (lease.go).
	PrimaryBounds []HoldRef
}

// HasMember reports whether n is the primary or a secondary of c.
func (c Configuration) HasMember(n NodeID) bool {
	return n != "" && (c.Primary == n || slices.Contains(c.Secondaries, n))
}

// roleOf returns the status c assigns to n: primary, secondary or inactive
// (not a member).
func (c Configuration) roleOf(n NodeID) Status {
	switch {
	case c.Primary == n:
		return StatusPrimary
	case slices.Contains(c.Secondaries, n):
		return StatusSecondary
	default:
		return StatusInactive
	}
}

// sameMembers reports whether c and o list the same primary and secondaries
// (in any order).
func (c Configuration) sameMembers(o Configuration) bool {
	if c.Primary != o.Primary || len(c.Secondaries) != len(o.Secondaries) {
		return false
	}
	for _, s := range c.Secondaries {
		if !slices.Contains(o.Secondaries, s) {
			return false
		}
	}
	return true
}

// validate checks what every configuration must satisfy: a positive ballot
// and no node listed twice. A configuration without a primary is valid; it is
// what the meta server pushes while it has no member to promote.
func (c Configuration) validate() error {
	if c.Ballot <= 0 {
		return errorf(ErrInvalidConfiguration, "ballot %d is not positive", c.Ballot)
	}
	seen := make(map[NodeID]bool, len(c.Secondaries)+1)
	if c.Primary != "" {
		seen[c.Primary] = true
	}
	for _, s := range c.Secondaries {
		if s == "" {
			return errorf(ErrInvalidConfiguration, "empty secondary")
		}
		if seen[s] {
			return errorf(ErrInvalidConfiguration, "node %s listed twice", s)
		}
		seen[s] = true
	}
	return nil
}
