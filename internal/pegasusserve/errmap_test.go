package pegasusserve

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// Whatever our servers answer, the code sent to a Pegasus client is one it
// can parse: an unknown name would drop its whole connection.
func TestEveryCodeMapsToAKnownPegasusCode(t *testing.T) {
	for n := range pb.ErrorCode_name {
		e := &pb.Error{Code: pb.ErrorCode(n)}
		if oc := replicaOutcome(e); !oc.code.Known() {
			t.Errorf("replica %v -> %q, not a code clients know", e.GetCode(), oc.code)
		}
		if c := metaBodyCode(e); !c.Known() {
			t.Errorf("meta %v -> %q, not a code clients know", e.GetCode(), c)
		}
	}
	if oc := replicaOutcome(&pb.Error{Code: 1000}); oc.code != pegasusrpc.CodeUnknown {
		t.Errorf("a code from a newer server -> %v, want ERR_UNKNOWN", oc)
	}
	if oc := replicaOutcome(nil); oc != okOutcome {
		t.Errorf("no error -> %v", oc)
	}
}

func TestReplicaOutcome(t *testing.T) {
	for _, tc := range []struct {
		code pb.ErrorCode
		want outcome
	}{
		{pb.ErrorCode_ERR_OK, okOutcome},
		// The codes that must make the official clients re-query the
		// meta server and retry.
		{pb.ErrorCode_ERR_INVALID_STATE, outcome{code: pegasusrpc.CodeObjectNotFound}},
		{pb.ErrorCode_ERR_OBJECT_NOT_FOUND, outcome{code: pegasusrpc.CodeObjectNotFound}},
		{pb.ErrorCode_ERR_INACTIVE_STATE, outcome{code: pegasusrpc.CodeObjectNotFound}},
		{pb.ErrorCode_ERR_STALE_BALLOT, outcome{code: pegasusrpc.CodeObjectNotFound}},
		{pb.ErrorCode_ERR_APP_NOT_EXIST, outcome{code: pegasusrpc.CodeObjectNotFound}},
		{pb.ErrorCode_ERR_TIMEOUT, outcome{code: pegasusrpc.CodeTimeout}},
		{pb.ErrorCode_ERR_UNKNOWN_OUTCOME, outcome{code: pegasusrpc.CodeTimeout}},
		{pb.ErrorCode_ERR_BUSY, outcome{code: pegasusrpc.CodeBusy}},
		{pb.ErrorCode_ERR_CAPACITY_EXCEEDED, outcome{code: pegasusrpc.CodeCapacityExceeded}},
		{pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER, outcome{code: pegasusrpc.CodeNotEnoughMember}},
		{pb.ErrorCode_ERR_INVALID_PARAMETERS, storageOutcome(pegasusrpc.StatusInvalidArgument)},
		{pb.ErrorCode_ERR_INVALID_DATA, storageOutcome(pegasusrpc.StatusInvalidArgument)},
		{pb.ErrorCode_ERR_VERSION_OUTDATED, outcome{code: pegasusrpc.CodeVersionOutdated}},
		{pb.ErrorCode_ERR_UNKNOWN, outcome{code: pegasusrpc.CodeUnknown}},
	} {
		if got := replicaOutcome(&pb.Error{Code: tc.code}); got != tc.want {
			t.Errorf("%v -> %+v, want %+v", tc.code, got, tc.want)
		}
	}
}

func TestFailureOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want pegasusrpc.ErrorCode
	}{
		// Not sent: safe to retry elsewhere.
		{fmt.Errorf("%w: refused", ErrBackendUnavailable), pegasusrpc.CodeNetworkFailure},
		// Cannot be sent at all: an argument error (a storage status).
		{fmt.Errorf("%w: 70000000 bytes", ErrInvalidRequest), pegasusrpc.CodeOK},
		{status.Error(codes.Unavailable, "down"), pegasusrpc.CodeNetworkFailure},
		// Maybe executed: a timeout.
		{fmt.Errorf("%w: reset", ErrBackendBroken), pegasusrpc.CodeTimeout},
		{context.DeadlineExceeded, pegasusrpc.CodeTimeout},
		{context.Canceled, pegasusrpc.CodeTimeout},
		{status.Error(codes.DeadlineExceeded, "slow"), pegasusrpc.CodeTimeout},
		{ErrBackendResult, pegasusrpc.CodeUnknown},
		{status.Error(codes.Internal, "bug"), pegasusrpc.CodeUnknown},
	} {
		if got := failureOutcome(tc.err); got.code != tc.want {
			t.Errorf("%v -> %s, want %s", tc.err, got.code, tc.want)
		}
	}
}

// The stream's failures, by whether the request was sent: only one that
// cannot have reached the replica is safe for the clients to retry.
func TestBackendErrorOutcome(t *testing.T) {
	reset := status.Error(codes.Unavailable, "connection reset")
	for _, tc := range []struct {
		err  *stream.Error
		want outcome
	}{
		{&stream.Error{Err: reset}, outcome{code: pegasusrpc.CodeNetworkFailure}},
		{&stream.Error{Err: stream.ErrClosed}, outcome{code: pegasusrpc.CodeNetworkFailure}},
		{&stream.Error{Err: context.DeadlineExceeded}, outcome{code: pegasusrpc.CodeNetworkFailure}},
		{&stream.Error{Sent: true, Err: reset}, outcome{code: pegasusrpc.CodeTimeout}},
		{&stream.Error{Sent: true, Err: stream.ErrClosed}, outcome{code: pegasusrpc.CodeTimeout}},
		{&stream.Error{Sent: true, Err: context.DeadlineExceeded}, outcome{code: pegasusrpc.CodeTimeout}},
		{&stream.Error{Sent: true, Err: context.Canceled}, outcome{code: pegasusrpc.CodeTimeout}},
		{&stream.Error{Err: fmt.Errorf("%w: too large", stream.ErrInvalidRequest)}, storageOutcome(pegasusrpc.StatusInvalidArgument)},
	} {
		if got := failureOutcome(backendError(tc.err)); got != tc.want {
			t.Errorf("%v -> %+v, want %+v", tc.err, got, tc.want)
		}
	}
}

func TestMetaCodes(t *testing.T) {
	for _, tc := range []struct {
		code pb.ErrorCode
		want pegasusrpc.ErrorCode
	}{
		{pb.ErrorCode_ERR_OK, pegasusrpc.CodeOK},
		{pb.ErrorCode_ERR_FORWARD_TO_OTHERS, pegasusrpc.CodeForwardToOthers},
		{pb.ErrorCode_ERR_APP_NOT_EXIST, pegasusrpc.CodeObjectNotFound},
		{pb.ErrorCode_ERR_TIMEOUT, pegasusrpc.CodeTimeout},
		{pb.ErrorCode_ERR_REJECT, pegasusrpc.CodeUnknown},
	} {
		if got := metaBodyCode(&pb.Error{Code: tc.code}); got != tc.want {
			t.Errorf("%v -> %s, want %s", tc.code, got, tc.want)
		}
	}
	for s, want := range map[pb.TableStatus]pegasusrpc.ErrorCode{
		pb.TableStatus_AS_AVAILABLE: pegasusrpc.CodeOK,
		pb.TableStatus_AS_CREATING:  pegasusrpc.CodeBusyCreating,
		pb.TableStatus_AS_DROPPING:  pegasusrpc.CodeBusyDropping,
		pb.TableStatus_AS_DROPPED:   pegasusrpc.CodeObjectNotFound,
	} {
		if got := tableStatusCode(s); got != want {
			t.Errorf("table %v -> %s, want %s", s, got, want)
		}
	}
}
