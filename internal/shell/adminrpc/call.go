package adminrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Response is what every Meta response has: an error field.
type Response interface {
	GetError() *pb.Error
}

// maxForwards bounds the ERR_FORWARD_TO_OTHERS redirects one call follows,
// so that two meta servers that name each other mid-election cannot loop.
const maxForwards = 3

// CallMeta calls the meta server leader. It asks the meta server that
// served the last call first, then every other known one; a meta server
// answering ERR_FORWARD_TO_OTHERS is followed to the leader it names. The
// first answer with any other error code is returned as is: the caller
// reads resp.GetError() for table-level errors such as ERR_APP_NOT_EXIST.
//
// The error is non-nil only when no meta server served the call: it wraps
// ErrIncompatible if a server refused the caller's protocol version, else
// ErrNoLeader if servers answered but only to redirect, else
// ErrUnreachable; or the caller's context error, which ends the call at
// once.
func CallMeta[R Response](ctx context.Context, c *Conns, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	var zero R
	queue := c.callOrder()
	if len(queue) == 0 {
		return zero, fmt.Errorf("%w: no meta server configured", ErrUnreachable)
	}
	tried := make(map[string]bool)
	var failures []string
	forwards, forwarded, incompatible := 0, false, false
	for len(queue) > 0 {
		addr := queue[0]
		queue = queue[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		resp, err := callOne(ctx, c, addr, call)
		switch {
		case err != nil:
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed) {
				return zero, err
			}
			// An incompatible server may be one already upgraded (or not
			// yet) in a rolling upgrade: another may still serve the call.
			incompatible = incompatible || errors.Is(err, ErrIncompatible)
			// The summary names the kind once; keep only each server's detail.
			detail := strings.TrimPrefix(err.Error(), ErrUnreachable.Error()+": ")
			failures = append(failures, strings.TrimPrefix(detail, ErrIncompatible.Error()+": "))
			continue
		case resp.GetError().GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
			forwarded = true
			hint := resp.GetError().GetPrimary()
			failures = append(failures, fmt.Sprintf("%s forwarded to %q", addr, hint))
			if hint != "" && !tried[hint] && forwards < maxForwards {
				forwards++
				// The named leader goes first; the rest stay as fallbacks.
				queue = append([]string{hint}, queue...)
			}
			continue
		}
		c.setLeader(addr)
		return resp, nil
	}
	kind := ErrUnreachable
	switch {
	case incompatible:
		kind = ErrIncompatible
	case forwarded:
		kind = ErrNoLeader
	}
	return zero, fmt.Errorf("%w: %s", kind, strings.Join(failures, "; "))
}

// CallServer calls one server without following redirects, for commands
// addressed to a specific server. Errors are those of CallMeta.
func CallServer[C any, R any](ctx context.Context, c *Conns, addr string, service func(*Conns, context.Context, string) (C, error), call func(context.Context, C) (R, error)) (R, error) {
	var zero R
	client, err := service(c, ctx, addr)
	if err != nil {
		return zero, err
	}
	callCtx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := call(callCtx, client)
	if err != nil {
		return zero, classify(ctx, callCtx, addr, err)
	}
	return resp, nil
}

func callOne[R Response](ctx context.Context, c *Conns, addr string, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	return CallServer(ctx, c, addr, (*Conns).Meta, call)
}

// classify turns a failed call into one of the package's errors. ctx is
// the caller's context, callCtx the one of this call.
func classify(ctx, callCtx context.Context, addr string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("adminrpc: %s: %w", addr, ctxErr)
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		// The server enforces the deadline too and may report it before
		// the caller's context notices. When the caller's deadline is the
		// one that passed, say so: asking another server is pointless.
		parent, ok := ctx.Deadline()
		call, _ := callCtx.Deadline()
		if ok && !parent.After(call) {
			return fmt.Errorf("adminrpc: %s: %w", addr, context.DeadlineExceeded)
		}
	case codes.FailedPrecondition, codes.Unimplemented:
		return fmt.Errorf("%w: %s: %v", ErrIncompatible, addr, status.Convert(err).Message())
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, status.Convert(err).Message())
}
