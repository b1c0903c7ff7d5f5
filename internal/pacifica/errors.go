package pacifica

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them, so
// callers test with errors.Is.
var (
	// ErrNotPrimary is returned for reads and writes sent to a replica that
	// is not (or no longer knows it is) the primary of the current ballot.
	// The concrete error is a *NotPrimaryError carrying where to go instead.
	ErrNotPrimary = errors.New("pacifica: not primary")
	// ErrReconciling is returned for reads on a new primary that has not yet
	// committed everything it had prepared when it was promoted: until then
	// it may lack writes the previous primary acknowledged.
	ErrReconciling = errors.New("pacifica: primary is reconciling")
	// ErrOldPrimaryLease is returned for reads on a new primary while a
	// previous primary may still hold a read lease from some member: until
	// that lease provably ended, or that primary acknowledged its
	// demotion, the new primary serves nothing and commits nothing.
	ErrOldPrimaryLease = errors.New("pacifica: a previous primary may still hold a lease")
	// ErrNoLease is returned for reads on a primary whose lease (from its
	// members, or for a lone primary from the meta server) is not valid.
	ErrNoLease = errors.New("pacifica: no valid read lease")
	// ErrCapacityExceeded is returned when a write would put more than
	// Config.MaxInflight mutations between the prepared and committed
	// decrees. The client backs off and retries.
	ErrCapacityExceeded = errors.New("pacifica: too many uncommitted mutations")
	// ErrNotEnoughMembers is returned for writes while the configuration has
	// fewer members than Config.MinReplicaCount.
	ErrNotEnoughMembers = errors.New("pacifica: not enough members to accept writes")
	// ErrStaleBallot is returned for inputs carrying a ballot older than the
	// replica's. The concrete error is a *StaleBallotError.
	ErrStaleBallot = errors.New("pacifica: stale ballot")
	// ErrInvalidConfiguration is returned for a partition configuration that
	// is malformed or contradicts the one the replica holds at that ballot.
	ErrInvalidConfiguration = errors.New("pacifica: invalid partition configuration")
	// ErrInvalidConfig is returned by New for bad tuning parameters.
	ErrInvalidConfig = errors.New("pacifica: invalid replica config")
	// ErrInvalidMessage is returned by Step for a message that breaks the
	// protocol's framing (wrong recipient, entries out of sequence).
	ErrInvalidMessage = errors.New("pacifica: invalid message")
	// ErrInvalidLog is returned by New when the replayed log is not a valid
	// effective sequence (holes, decreasing ballots, gap after the applied
	// decree).
	ErrInvalidLog = errors.New("pacifica: invalid replayed log")
	// ErrAlreadyMember is returned by AddLearner for a node that already is
	// the primary or a secondary.
	ErrAlreadyMember = errors.New("pacifica: node is already a member")
	// ErrCheckpointNotWanted is returned by InstallCheckpoint when the
	// learning session that asked for the checkpoint is over; the driver
	// must discard the copy.
	ErrCheckpointNotWanted = errors.New("pacifica: checkpoint no longer wanted")
	// ErrReadyOutstanding is returned by InstallCheckpoint between Ready and
	// Advance; the driver asks again after Advance.
	ErrReadyOutstanding = errors.New("pacifica: a Ready is outstanding")
	// ErrDiverged puts a replica in StatusError: it was asked to replace an
	// entry it had already committed, which only a broken peer or a corrupt
	// log can cause. The replica must be closed and rebuilt by learning.
	ErrDiverged = errors.New("pacifica: replica diverged from the committed history")
)

// NotPrimaryError tells a client where to send the request instead. Primary
// is empty when the replica does not know the new primary.
type NotPrimaryError struct {
	Primary NodeID
	Ballot  Ballot
}

func (e *NotPrimaryError) Error() string {
	if e.Primary == "" {
		return fmt.Sprintf("%v (ballot %d, primary unknown)", ErrNotPrimary, e.Ballot)
	}
	return fmt.Sprintf("%v (ballot %d, primary %s)", ErrNotPrimary, e.Ballot, e.Primary)
}

// Is makes errors.Is(err, ErrNotPrimary) hold.
func (e *NotPrimaryError) Is(target error) bool { return target == ErrNotPrimary }

// StaleBallotError reports that an input carried ballot Got while the replica
// is already at Ballot.
type StaleBallotError struct {
	Ballot Ballot
	Got    Ballot
}

func (e *StaleBallotError) Error() string {
	return fmt.Sprintf("%v: got %d, replica is at %d", ErrStaleBallot, e.Got, e.Ballot)
}

// Is makes errors.Is(err, ErrStaleBallot) hold.
func (e *StaleBallotError) Is(target error) bool { return target == ErrStaleBallot }

// errorf wraps sentinel with a formatted detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
