package pegasusserve

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// This file is the only place where our servers' errors become Pegasus
// error codes. Pegasus has two error channels (see pegasus-wire.md §8):
//
//   - the rpc-level error name at the head of every response frame, which
//     drives the official clients' routing: whether they query the meta
//     server again, and whether they retry;
//   - the storage status in the response struct's `error` field (a RocksDB
//     status code), which the clients turn into results ("not found",
//     "check failed", "partial") or into errors for the caller.
//
// The mapping below chooses, for each of our codes, the Pegasus code whose
// client reaction matches what the code means here.

// outcome is what a request comes to on the Pegasus side: the rpc-level
// code and, when that is ERR_OK, the storage status to put in the
// response struct.
type outcome struct {
	code   pegasusrpc.ErrorCode
	status pegasusrpc.StorageStatus
}

var okOutcome = outcome{code: pegasusrpc.CodeOK, status: pegasusrpc.StatusOK}

// storageOutcome is a successful call whose result carries status.
func storageOutcome(s pegasusrpc.StorageStatus) outcome {
	return outcome{code: pegasusrpc.CodeOK, status: s}
}

// replicaOutcome maps the error of our replica server's answer.
func replicaOutcome(e *pb.Error) outcome {
	switch e.GetCode() {
	case pb.ErrorCode_ERR_OK:
		return okOutcome

	// The partition is not served here as primary right now: a role
	// change, a restart, a table being dropped. Pegasus' own replica
	// answers ERR_INVALID_STATE when it is not primary, but the Go client
	// then refreshes its routing and fails the call without retrying
	// (table_connector.go handleReplicaError), so a graceful primary
	// handover would surface as errors. ERR_OBJECT_NOT_FOUND makes both
	// official clients re-query the meta server and retry until their
	// deadline, which is what these codes ask of a client here.
	case pb.ErrorCode_ERR_INVALID_STATE, pb.ErrorCode_ERR_OBJECT_NOT_FOUND, pb.ErrorCode_ERR_INACTIVE_STATE,
		pb.ErrorCode_ERR_STALE_BALLOT, pb.ErrorCode_ERR_REJECT, pb.ErrorCode_ERR_FORWARD_TO_OTHERS,
		pb.ErrorCode_ERR_APP_NOT_EXIST:
		return outcome{code: pegasusrpc.CodeObjectNotFound}

	// Overload and lack of replicas: Pegasus' own codes, on which the
	// clients neither re-route nor retry. They reach a client only once
	// the translator's own retries ran out of time (refusedForNow).
	case pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER:
		return outcome{code: pegasusrpc.CodeNotEnoughMember}
	case pb.ErrorCode_ERR_CAPACITY_EXCEEDED:
		return outcome{code: pegasusrpc.CodeCapacityExceeded}
	case pb.ErrorCode_ERR_BUSY:
		return outcome{code: pegasusrpc.CodeBusy}

	// The write may or may not have been applied. Pegasus clients treat a
	// timeout exactly so (refresh, no retry, error to the caller), which
	// is the honest answer for an unknown outcome too.
	case pb.ErrorCode_ERR_TIMEOUT, pb.ErrorCode_ERR_UNKNOWN_OUTCOME:
		return outcome{code: pegasusrpc.CodeTimeout}

	// A request the replica refused as invalid (an incr on a non-integer,
	// an integer check on a non-integer, a key or value over the limits):
	// Pegasus reports these as RocksDB InvalidArgument in the response,
	// which the clients raise to the caller without retrying.
	case pb.ErrorCode_ERR_INVALID_PARAMETERS, pb.ErrorCode_ERR_INVALID_DATA:
		return storageOutcome(pegasusrpc.StatusInvalidArgument)

	case pb.ErrorCode_ERR_VERSION_OUTDATED:
		return outcome{code: pegasusrpc.CodeVersionOutdated}
	case pb.ErrorCode_ERR_STATE_FREEZED:
		return outcome{code: pegasusrpc.CodeStateFreezed}
	}
	// ERR_UNKNOWN, ERR_APP_EXIST, ERR_CHECKPOINT_UNAVAILABLE and codes
	// added after this was written.
	return outcome{code: pegasusrpc.CodeUnknown}
}

// refusedForNow reports the replica's answers that refuse a request
// without executing it, for a moment only: a full partition queue, a new
// primary still reconciling, a partition short of replicas until the meta
// server replaces a dead one. Pegasus clients give up at once on the
// Pegasus codes for these (ERR_BUSY, ERR_NOT_ENOUGH_MEMBER,
// ERR_CAPACITY_EXCEEDED), which during a failover or a rolling restart
// would turn a pause of milliseconds into errors. So the translator
// retries them at the same replica, as our own client does, while the
// client's deadline allows, and answers the Pegasus code only after that.
// A retried write keeps its RequestID, so it cannot apply twice.
func refusedForNow(c pb.ErrorCode) bool {
	switch c {
	case pb.ErrorCode_ERR_BUSY, pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER, pb.ErrorCode_ERR_CAPACITY_EXCEEDED:
		return true
	}
	return false
}

// failureOutcome maps a request that got no answer from the local server.
func failureOutcome(err error) outcome {
	switch {
	case errors.Is(err, ErrInvalidRequest):
		// Refused before it was sent, as the replica refuses a key or
		// value over its limits: an argument error, not retried.
		return storageOutcome(pegasusrpc.StatusInvalidArgument)
	case errors.Is(err, ErrBackendUnavailable):
		// Nothing reached the server, so a retry elsewhere is safe:
		// the clients re-query the meta server and retry on this code.
		return outcome{code: pegasusrpc.CodeNetworkFailure}
	case errors.Is(err, ErrBackendBroken), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The request may have been executed: a timeout, to the clients.
		return outcome{code: pegasusrpc.CodeTimeout}
	}
	switch status.Code(err) {
	case codes.Unavailable:
		return outcome{code: pegasusrpc.CodeNetworkFailure}
	case codes.DeadlineExceeded, codes.Canceled:
		return outcome{code: pegasusrpc.CodeTimeout}
	}
	return outcome{code: pegasusrpc.CodeUnknown}
}

// metaBodyCode maps our meta server's error to the err field of
// query_cfg_response, which is where Pegasus meta servers report
// table-level results (the rpc-level code stays ERR_OK).
func metaBodyCode(e *pb.Error) pegasusrpc.ErrorCode {
	switch e.GetCode() {
	case pb.ErrorCode_ERR_OK:
		return pegasusrpc.CodeOK
	case pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
		return pegasusrpc.CodeForwardToOthers
	case pb.ErrorCode_ERR_APP_NOT_EXIST, pb.ErrorCode_ERR_OBJECT_NOT_FOUND:
		// What a Pegasus meta server answers for a missing table
		// (server_state.cpp); ERR_APP_NOT_EXIST is its answer to DDL.
		return pegasusrpc.CodeObjectNotFound
	case pb.ErrorCode_ERR_TIMEOUT:
		return pegasusrpc.CodeTimeout
	case pb.ErrorCode_ERR_BUSY:
		return pegasusrpc.CodeBusy
	case pb.ErrorCode_ERR_INVALID_PARAMETERS:
		return pegasusrpc.CodeInvalidParameters
	case pb.ErrorCode_ERR_STATE_FREEZED:
		return pegasusrpc.CodeStateFreezed
	case pb.ErrorCode_ERR_VERSION_OUTDATED:
		return pegasusrpc.CodeVersionOutdated
	}
	return pegasusrpc.CodeUnknown
}

// tableStatusCode is the query_cfg_response err for a table that exists
// but is not available, as a Pegasus meta server answers it.
func tableStatusCode(s pb.TableStatus) pegasusrpc.ErrorCode {
	switch s {
	case pb.TableStatus_AS_CREATING:
		return pegasusrpc.CodeBusyCreating
	case pb.TableStatus_AS_DROPPING:
		return pegasusrpc.CodeBusyDropping
	case pb.TableStatus_AS_DROPPED:
		return pegasusrpc.CodeObjectNotFound
	}
	return pegasusrpc.CodeOK
}
