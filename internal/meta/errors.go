package meta

import (
	"context"
	"errors"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Sentinel errors of the meta server. Every error the package returns wraps
// one of them or one of decide's; wireCode maps them to rpc error codes, in
// this file and nowhere else.
var (
	// ErrNotLeader: this meta server does not lead; the concrete error is a
	// *NotLeaderError naming the leader when known.
	ErrNotLeader = errors.New("meta: not the leader")
	// ErrLostLeadership: a store write was refused because another meta
	// server became leader since this one was elected (the write's fence
	// failed). The term ends at once.
	ErrLostLeadership = errors.New("meta: leadership lost")
	// ErrConflict: a configuration changed in the store since it was read
	// (another writer won the ballot); the concrete error is a
	// *ConflictError carrying the stored configuration.
	ErrConflict = errors.New("meta: configuration changed concurrently")

	// ErrTableExists: a table of that name exists.
	ErrTableExists = errors.New("meta: table already exists")
	// ErrTableNotFound: no available table of that name.
	ErrTableNotFound = errors.New("meta: table not found")
	// ErrInvalidTableName: names are 1-128 characters of [A-Za-z0-9_.-].
	ErrInvalidTableName = errors.New("meta: invalid table name")
	// ErrPartitionCountNotPowerOfTwo: Pegasus clients route a key to
	// partition hash & (count-1), which needs a power of two.
	ErrPartitionCountNotPowerOfTwo = errors.New("meta: partition count must be a power of two")
	// ErrInvalidReplicaCount: the replica count is below one or above the
	// number of alive replica servers.
	ErrInvalidReplicaCount = errors.New("meta: invalid replica count")
	// ErrCreateTimeout: the table was created but not every partition has a
	// serving primary before the deadline.
	ErrCreateTimeout = errors.New("meta: table created, but not every partition has a primary yet")

	// ErrLevelForbids: the meta function level does not allow the operation.
	ErrLevelForbids = errors.New("meta: meta function level forbids it")
	// ErrUnknownPartition: no partition with that gpid.
	ErrUnknownPartition = errors.New("meta: unknown partition")
	// ErrNotPrimary: a configuration proposal came from a node that is not
	// the partition's primary.
	ErrNotPrimary = errors.New("meta: proposal not from the primary")
	// ErrUnsupportedProposal: replica servers may propose removing a
	// member, upgrading a learner and a forced ballot update only.
	ErrUnsupportedProposal = errors.New("meta: unsupported proposal type")

	// ErrUnknownCommand: no remote command of that name.
	ErrUnknownCommand = errors.New("meta: unknown remote command")
	// ErrInvalidArgument: a remote command or request argument is malformed.
	ErrInvalidArgument = errors.New("meta: invalid argument")
	// ErrNodeAlive: meta.forget_node named a replica server that is still
	// alive.
	ErrNodeAlive = errors.New("meta: replica server still alive")

	// ErrCorruptRecord: a record in the store does not decode or breaks an
	// invariant.
	ErrCorruptRecord = errors.New("meta: corrupt metadata record")
	// ErrInvalidOptions: the server's options are inconsistent.
	ErrInvalidOptions = errors.New("meta: invalid options")
	// ErrPushRejected: a replica server refused a pushed configuration.
	ErrPushRejected = errors.New("meta: replica server refused the configuration")
	// ErrClusterIDMismatch: the caller belongs to another cluster (its
	// cluster id differs), or it has joined none and holds replicas of
	// tables this cluster never had.
	ErrClusterIDMismatch = errors.New("meta: caller belongs to another cluster")
	// ErrClusterIDUnknown: the server has not read the cluster id from
	// etcd yet, so it cannot check a message that carries one; it wraps a
	// *NotLeaderError (the caller asks another meta server).
	ErrClusterIDUnknown = errors.New("meta: the cluster id is not read from etcd yet")

	// ErrForeignSender: a beacon or proposal names a node other than the
	// one the caller's certificate speaks for.
	ErrForeignSender = errors.New("meta: request for another node")
	// ErrBeaconFromFuture: a beacon's start time is ahead of this server's
	// clock by more than clocks can differ.
	ErrBeaconFromFuture = errors.New("meta: beacon from the future")
	// ErrNotAdmitted: a beacon from a replica server outside the white
	// list (enable_white_list).
	ErrNotAdmitted = errors.New("meta: replica server not admitted")
)

// NotLeaderError says where the leader is, when this server knows.
type NotLeaderError struct {
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return ErrNotLeader.Error() + " (no leader known)"
	}
	return fmt.Sprintf("%v: the leader is %s", ErrNotLeader, e.Leader)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// ConflictError carries what the store holds for a partition whose
// compare-and-swap failed. Exists is false when the partition is gone (its
// table was dropped).
type ConflictError struct {
	Current decide.PartitionConfig
	Rev     int64
	Exists  bool
}

func (e *ConflictError) Error() string {
	if !e.Exists {
		return fmt.Sprintf("%v: partition %s no longer exists", ErrConflict, e.Current.Gpid)
	}
	return fmt.Sprintf("%v: %s is at ballot %d", ErrConflict, e.Current.Gpid, e.Current.Ballot)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// wireCode maps an error to the rpc error code the caller acts on.
func wireCode(err error) pb.ErrorCode {
	switch {
	case err == nil:
		return pb.ErrorCode_ERR_OK
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrLostLeadership):
		return pb.ErrorCode_ERR_FORWARD_TO_OTHERS
	case errors.Is(err, ErrTableExists):
		return pb.ErrorCode_ERR_APP_EXIST
	case errors.Is(err, ErrTableNotFound):
		return pb.ErrorCode_ERR_APP_NOT_EXIST
	case errors.Is(err, ErrUnknownPartition):
		return pb.ErrorCode_ERR_OBJECT_NOT_FOUND
	case errors.Is(err, ErrLevelForbids):
		return pb.ErrorCode_ERR_STATE_FREEZED
	case errors.Is(err, ErrCreateTimeout):
		return pb.ErrorCode_ERR_TIMEOUT
	case errors.Is(err, ErrInvalidReplicaCount):
		return pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER
	case errors.Is(err, decide.ErrProtocolIncompatible):
		return pb.ErrorCode_ERR_VERSION_OUTDATED
	case errors.Is(err, decide.ErrUnstableNode), errors.Is(err, decide.ErrStaleIncarnation),
		errors.Is(err, decide.ErrDrainRefused), errors.Is(err, ErrNotAdmitted), errors.Is(err, ErrBeaconFromFuture):
		return pb.ErrorCode_ERR_REJECT
	case errors.Is(err, decide.ErrNodeFenced), errors.Is(err, decide.ErrNodeNotAlive):
		return pb.ErrorCode_ERR_INACTIVE_STATE
	case errors.Is(err, decide.ErrStaleProposal), errors.Is(err, ErrConflict):
		return pb.ErrorCode_ERR_STALE_BALLOT
	case errors.Is(err, ErrNotPrimary):
		return pb.ErrorCode_ERR_INVALID_STATE
	case errors.Is(err, ErrClusterIDMismatch):
		return pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH
	case errors.Is(err, ErrInvalidTableName), errors.Is(err, ErrPartitionCountNotPowerOfTwo),
		errors.Is(err, ErrUnsupportedProposal), errors.Is(err, ErrUnknownCommand),
		errors.Is(err, ErrInvalidArgument), errors.Is(err, decide.ErrInvalidAction), errors.Is(err, ErrNodeAlive),
		errors.Is(err, decide.ErrMoveInProgress), errors.Is(err, decide.ErrNotSecondary),
		errors.Is(err, decide.ErrUnknownKnob), errors.Is(err, decide.ErrInvalidKnobValue),
		errors.Is(err, decide.ErrUnknownLevel):
		return pb.ErrorCode_ERR_INVALID_PARAMETERS
	case errors.Is(err, context.DeadlineExceeded):
		return pb.ErrorCode_ERR_TIMEOUT
	}
	return pb.ErrorCode_ERR_UNKNOWN
}

// WireError is wireError for the whole-system simulation (internal/sim),
// whose replica servers read the controller's answers by their wire codes
// as the real ones do.
func WireError(err error) *pb.Error { return wireError(err) }

// wireError turns err into the Error field of a response; nil for nil. A
// not-leader error carries the leader in Error.primary.
func wireError(err error) *pb.Error {
	if err == nil {
		return nil
	}
	e := &pb.Error{Code: wireCode(err), Message: err.Error()}
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		e.Primary = nl.Leader
	}
	var ce *ConflictError
	if errors.As(err, &ce) && ce.Exists {
		e.Ballot = ce.Current.Ballot
	}
	return e
}
