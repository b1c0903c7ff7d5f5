package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// Sentinel errors. Every error the package returns wraps one of them (or an
// error of the packages it drives), so callers test with errors.Is.
var (
	// ErrNotHosted: the server holds no replica of the partition.
	ErrNotHosted = errors.New("replica: partition not hosted on this server")
	// ErrWrongPartition: the request's partition hash does not route to the
	// partition it names.
	ErrWrongPartition = errors.New("replica: partition hash does not route to this partition")
	// ErrInvalidRequest: a malformed or oversized client request. Nothing
	// was logged or applied.
	ErrInvalidRequest = errors.New("replica: invalid request")
	// ErrBusy: the partition's input queue is full.
	ErrBusy = errors.New("replica: partition queue full")
	// ErrThrottled: a write over the table's write throttling reject
	// threshold (Pegasus answers ERR_BUSY).
	ErrThrottled = errors.New("replica: write throttled")
	// ErrDenied: the table's replica.deny_client_request refuses the
	// request with "reconfig*" (Pegasus answers ERR_INVALID_STATE, and
	// clients refresh their routes).
	ErrDenied = errors.New("replica: table denies client requests")
	// ErrTimeout: the request's deadline passed before it completed. A write
	// answered so may still commit.
	ErrTimeout = errors.New("replica: request deadline exceeded")
	// ErrClosed: the partition replica or the server is closed or closing.
	ErrClosed = errors.New("replica: closed")
	// ErrPartitionFailed: the partition replica stopped after an error it
	// cannot continue from (log write failure, corrupt data, divergence);
	// it serves nothing until it is closed and rebuilt by learning.
	ErrPartitionFailed = errors.New("replica: partition replica failed")
	// ErrUnknownOutcome: a retried incr or check_and_set whose original was
	// applied, but whose result is no longer remembered.
	ErrUnknownOutcome = errors.New("replica: result of the original write is no longer known")
	// ErrCorruptLog: a mutation log record does not decode.
	ErrCorruptLog = errors.New("replica: corrupt mutation log record")
	// ErrCorruptInfo: a replica directory's info file does not decode or
	// names another partition.
	ErrCorruptInfo = errors.New("replica: corrupt replica info")
	// ErrCheckpoint: copying a storage checkpoint between replicas failed.
	ErrCheckpoint = errors.New("replica: checkpoint transfer failed")
	// ErrUnknownCommand: a remote command this server does not know.
	ErrUnknownCommand = errors.New("replica: unknown remote command")
	// ErrInvalidConfig: the server's configuration or options are unusable.
	ErrInvalidConfig = errors.New("replica: invalid configuration")
	// ErrMeta: no meta server answered, or the answer was an error.
	ErrMeta = errors.New("replica: meta server call failed")
	// ErrForeignCluster: a message from a server of another cluster (its
	// cluster id differs from the one this server joined), or from a meta
	// server this server may not obey (see clusterid.go).
	ErrForeignCluster = errors.New("replica: message from another cluster")
	// ErrDataDirLost: data_dir disappeared under the running server. Its
	// stores can neither be written nor closed; the process must exit.
	ErrDataDirLost = errors.New("replica: data_dir removed while the server runs")
	// ErrForeignPeer: a configuration push, replication message or
	// checkpoint request from a sender that may not make it (guard.go).
	ErrForeignPeer = errors.New("replica: refused sender")
	// ErrBallotOutOfReach: a pushed configuration whose ballot is far above
	// what the meta server said it issued (guard.go).
	ErrBallotOutOfReach = errors.New("replica: pushed ballot beyond the meta's record")
	// ErrDataFormat: data_dir holds an on-disk format this binary does not
	// read (a rollback past the release that wrote it); the server does
	// not start rather than misread it.
	ErrDataFormat = errors.New("replica: unreadable on-disk format")
)

// WireError is wireError for the whole-system simulation (internal/sim),
// whose replica servers answer clients with the server's error codes.
func WireError(err error) *pb.Error { return wireError(err) }

// wireError maps an error to its wire form. It is the only place where
// errors get a wire code; nil maps to nil.
func wireError(err error) *pb.Error {
	if err == nil {
		return nil
	}
	e := &pb.Error{Code: wireCode(err), Message: err.Error()}
	var np *pacifica.NotPrimaryError
	if errors.As(err, &np) {
		e.Primary, e.Ballot = string(np.Primary), int64(np.Ballot)
	}
	return e
}

func wireCode(err error) pb.ErrorCode {
	switch {
	case errors.Is(err, pacifica.ErrNotPrimary):
		return pb.ErrorCode_ERR_INVALID_STATE
	case errors.Is(err, pacifica.ErrReconciling), errors.Is(err, pacifica.ErrOldPrimaryLease):
		// A new primary catching up on what its predecessor acknowledged,
		// or waiting until its predecessor's lease provably ended: the
		// route is right, the client should retry here shortly.
		return pb.ErrorCode_ERR_BUSY
	case errors.Is(err, pacifica.ErrNoLease):
		return pb.ErrorCode_ERR_INACTIVE_STATE
	case errors.Is(err, pacifica.ErrCapacityExceeded):
		return pb.ErrorCode_ERR_CAPACITY_EXCEEDED
	case errors.Is(err, pacifica.ErrNotEnoughMembers):
		return pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER
	case errors.Is(err, pacifica.ErrStaleBallot):
		return pb.ErrorCode_ERR_STALE_BALLOT
	case errors.Is(err, ErrNotHosted):
		return pb.ErrorCode_ERR_OBJECT_NOT_FOUND
	case errors.Is(err, ErrWrongPartition), errors.Is(err, ErrInvalidRequest), isStorageInputError(err):
		return pb.ErrorCode_ERR_INVALID_PARAMETERS
	case errors.Is(err, ErrClosed), errors.Is(err, ErrPartitionFailed),
		errors.Is(err, storage.ErrClosed):
		return pb.ErrorCode_ERR_INACTIVE_STATE
	case errors.Is(err, ErrBusy), errors.Is(err, ErrThrottled):
		return pb.ErrorCode_ERR_BUSY
	case errors.Is(err, ErrDenied):
		return pb.ErrorCode_ERR_INVALID_STATE
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return pb.ErrorCode_ERR_TIMEOUT
	case errors.Is(err, ErrUnknownOutcome):
		return pb.ErrorCode_ERR_UNKNOWN_OUTCOME
	case errors.Is(err, ErrCheckpoint):
		return pb.ErrorCode_ERR_CHECKPOINT_UNAVAILABLE
	case errors.Is(err, ErrUnknownCommand), errors.Is(err, ErrBallotOutOfReach):
		return pb.ErrorCode_ERR_INVALID_PARAMETERS
	case errors.Is(err, ErrForeignCluster):
		return pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH
	case errors.Is(err, ErrForeignPeer):
		return pb.ErrorCode_ERR_REJECT
	default:
		return pb.ErrorCode_ERR_UNKNOWN
	}
}

// isStorageInputError reports whether err is the store refusing the input
// itself (sizes, TTLs, non-integer incr): the same request fails the same
// way on every replica and on every retry.
func isStorageInputError(err error) bool {
	for _, s := range []error{
		storage.ErrHashKeyTooLarge, storage.ErrSortKeyTooLarge, storage.ErrValueTooLarge,
		storage.ErrInvalidTTL, storage.ErrEmptyMultiOp, storage.ErrInvalidCheckType,
		storage.ErrUnknownOp, storage.ErrIncrNotInteger, storage.ErrIncrOverflow,
		storage.ErrCheckNotInteger, storage.ErrInvalidKey,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// errorf wraps sentinel with a formatted detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
