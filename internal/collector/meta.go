package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaAttemptTimeout bounds one call to one meta server, so that a hung
// meta server costs one attempt and not the caller's whole deadline.
const metaAttemptTimeout = 2 * time.Second

// newMetaConns reaches the meta servers for the collector's admin calls
// (create the detection table, list nodes and tables) through
// internal/dial: the server that answered last first, redirects followed
// to the leader, every other known server in turn.
func newMetaConns(addrs []string, creds dial.Credentials) *dial.Conns {
	return dial.New(addrs, dial.Options{CallTimeout: metaAttemptTimeout, Credentials: creds})
}

// callMeta runs call against the meta servers until one answers with
// anything but ERR_FORWARD_TO_OTHERS. The answer is returned whatever its
// error code, for the caller to interpret (ERR_APP_NOT_EXIST is an answer,
// not a failure); metaErr turns a code into an error. When no server
// answers, the error wraps ErrMetaUnavailable.
func callMeta[R dial.Response](ctx context.Context, m *dial.Conns, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	resp, err := dial.CallMeta(ctx, m, call)
	if err != nil {
		return resp, fmt.Errorf("%w: %w", ErrMetaUnavailable, err)
	}
	return resp, nil
}

// metaErr returns nil for ERR_OK and otherwise an error wrapping ErrMeta
// that names the code.
func metaErr(e *pb.Error) error {
	if e.GetCode() == pb.ErrorCode_ERR_OK {
		return nil
	}
	if e.GetMessage() != "" {
		return fmt.Errorf("%w: %s: %s", ErrMeta, e.GetCode(), e.GetMessage())
	}
	return fmt.Errorf("%w: %s", ErrMeta, e.GetCode())
}
