package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaAttemptTimeout bounds the query to the meta server believed to be the
// leader before the others are asked. A leader that is hung rather than
// dead (paused, partitioned) would otherwise hold every refresh for the
// whole operation timeout.
const metaAttemptTimeout = time.Second

// metaSession asks the meta servers for partition configurations, through
// the package that owns dialing and leader following (internal/dial): it
// asks the meta server that answered last first, follows
// ERR_FORWARD_TO_OTHERS to the leader it names (at most three times, so
// that two meta servers naming each other during an election cannot loop),
// and when the asked server fails asks all the others at once, keeping the
// first answer. Configuration queries are unary: they are rare next to data
// operations.
type metaSession struct {
	conns *dial.Conns
}

func newMetaSession(addrs []string, opts dial.Options) *metaSession {
	opts.CallTimeout = metaAttemptTimeout
	return &metaSession{conns: dial.New(addrs, opts)}
}

// waitConnected returns once one meta server has accepted a connection, or
// with ErrUnavailable when none did before ctx ended.
func (m *metaSession) waitConnected(ctx context.Context) error {
	if err := m.conns.WaitAnyMeta(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// queryConfig asks for a table's partition configuration. An answer whose
// error the client would retry (ruleFor) is not final: another meta server
// is asked, and only when none answers better is it returned.
func (m *metaSession) queryConfig(ctx context.Context, table string) (*pb.QueryConfigResponse, error) {
	req := &pb.QueryConfigRequest{Table: table}
	resp, from, err := dial.CallMetaFrom(ctx, m.conns,
		func(ctx context.Context, mc pb.MetaClient) (*pb.QueryConfigResponse, error) {
			return mc.QueryConfig(ctx, req)
		},
		dial.FanOut(),
		dial.RetryOn(func(e *pb.Error) bool {
			return e.GetCode() != pb.ErrorCode_ERR_OK && ruleFor(e.GetCode()).retry != noRetry
		}))
	if err != nil {
		var kind error = ErrUnavailable
		switch {
		case errors.Is(err, dial.ErrClosed):
			kind = ErrClosed
		case errors.Is(err, dial.ErrIncompatible):
			kind = ErrIncompatibleVersion
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return nil, fmt.Errorf("%w: no meta server answered for table %q: %w", ErrUnavailable, table, err)
		}
		return nil, fmt.Errorf("%w: no meta server answered for table %q: %v", kind, table, err)
	}
	e := resp.GetError()
	switch e.GetCode() {
	case pb.ErrorCode_ERR_OK:
		switch resp.GetTable().GetStatus() {
		case pb.TableStatus_AS_DROPPING, pb.TableStatus_AS_DROPPED:
			return nil, &Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST.String(), Message: fmt.Sprintf("table %q is %s", table, resp.GetTable().GetStatus()), Server: from, kind: ErrTableNotFound}
		}
		return resp, nil
	default:
		serr, r := serverError(from, e)
		if r.retry == noRetry {
			return nil, serr
		}
		return nil, fmt.Errorf("%w: no meta server answered for table %q: %w", ErrUnavailable, table, serr)
	}
}

func (m *metaSession) close() { m.conns.Close() }
