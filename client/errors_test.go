package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestEveryWireCodeHasARule fails when the protocol gains an error code
// that errors.go does not map.
func TestEveryWireCodeHasARule(t *testing.T) {
	for v, name := range pb.ErrorCode_name {
		code := pb.ErrorCode(v)
		if code == pb.ErrorCode_ERR_OK {
			continue
		}
		r, ok := wireRules[code]
		if !ok {
			t.Errorf("%s has no rule in wireRules", name)
			continue
		}
		if r.kind == nil {
			t.Errorf("%s maps to no sentinel", name)
		}
	}
	if r := ruleFor(pb.ErrorCode(9999)); r.kind != ErrInternal || r.retry != noRetry {
		t.Errorf("an unknown code maps to %+v, want ErrInternal without retry", r)
	}
}

// TestServerErrorsAreTyped: an error a server answers, and the client does
// not retry, reaches the caller as an *Error wrapping its sentinel.
func TestServerErrorsAreTyped(t *testing.T) {
	for code, want := range map[pb.ErrorCode]error{
		pb.ErrorCode_ERR_INVALID_PARAMETERS: ErrInvalidArgument,
		pb.ErrorCode_ERR_INVALID_DATA:       ErrInvalidArgument,
		pb.ErrorCode_ERR_APP_NOT_EXIST:      ErrTableNotFound,
		pb.ErrorCode_ERR_VERSION_OUTDATED:   ErrIncompatibleVersion,
		pb.ErrorCode_ERR_UNKNOWN:            ErrInternal,
		pb.ErrorCode_ERR_UNKNOWN_OUTCOME:    ErrUnknownOutcome,
	} {
		t.Run(code.String(), func(t *testing.T) {
			fc := newFakeCluster(t, 1, 1)
			fc.createTable("t", 1)
			tbl := fc.open(fc.newClient(nil), "t")
			fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: code} })
			err := tbl.Set(testCtx(t), b("h"), b("s"), b("v"), 0)
			if !errors.Is(err, want) {
				t.Fatalf("Set = %v, want errors.Is %v", err, want)
			}
			var se *Error
			if !errors.As(err, &se) || se.Code != code.String() || se.Server != fc.replicas[0].addr {
				t.Fatalf("Set = %v; want an *Error with code %s from %s", err, code, fc.replicas[0].addr)
			}
			if !strings.Contains(err.Error(), `set on table "t"`) || !strings.Contains(err.Error(), code.String()) {
				t.Fatalf("message %q does not say what failed", err)
			}
			if errors.Is(err, ErrTimeout) {
				t.Fatalf("a definitive error is also a timeout: %v", err)
			}
		})
	}
}

// TestTimeoutDoesNotWrapLastError: an operation that ran out of time while
// the primary kept moving is ErrTimeout, not ErrNotPrimary; the last error
// is only in the message.
func TestTimeoutDoesNotWrapLastError(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: pb.ErrorCode_ERR_INVALID_STATE} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := tbl.Get(ctx, b("h"), b("s"))
	var se *Error
	switch {
	case !errors.Is(err, ErrTimeout), !errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("Get = %v, want ErrTimeout", err)
	case errors.Is(err, ErrNotPrimary), errors.As(err, &se):
		t.Fatalf("a timeout wraps its last error: %v", err)
	case !strings.Contains(err.Error(), "ERR_INVALID_STATE"):
		t.Fatalf("message %q does not report the last error", err)
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Code: "ERR_INVALID_STATE", Message: "not primary", Server: "10.0.0.1:34801", kind: ErrNotPrimary}
	if got, want := e.Error(), "client: replica is not the primary: ERR_INVALID_STATE from 10.0.0.1:34801: not primary"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	op := &opError{op: "set", table: "users", attempts: 3, err: ErrTimeout, ctxErr: context.DeadlineExceeded, last: e, unknown: true}
	want := `client: set on table "users": operation timed out after 3 attempts (write outcome unknown); last error: replica is not the primary: ERR_INVALID_STATE from 10.0.0.1:34801: not primary`
	if got := op.Error(); got != want {
		t.Errorf("Error() =\n%q, want\n%q", got, want)
	}
	if !errors.Is(op, ErrTimeout) || !errors.Is(op, ErrUnknownOutcome) || !errors.Is(op, context.DeadlineExceeded) || errors.Is(op, ErrNotPrimary) {
		t.Errorf("opError wraps the wrong errors")
	}
}
