package dial

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

// CallOption adjusts one CallMeta.
type CallOption func(*callConfig)

type callConfig struct {
	retry  func(*pb.Error) bool
	fanOut bool
}

// RetryOn makes answers whose error satisfies retry not final: the next
// meta server is asked, as after a failure. When no server gives a final
// answer, the last such answer is returned (with a nil error), for the
// caller to interpret. Without it every answer but ERR_FORWARD_TO_OTHERS
// is final.
func RetryOn(retry func(*pb.Error) bool) CallOption {
	return func(c *callConfig) { c.retry = retry }
}

// FanOut makes the call ask every remaining meta server at once after the
// first one failed, keeping the first final answer: a lookup then costs
// one attempt timeout, not one per dead server. Only for calls without
// side effects, since followers may all be asked.
func FanOut() CallOption {
	return func(c *callConfig) { c.fanOut = true }
}

// CallMeta calls the meta server leader. It asks the meta server that
// served the last call first, then every other known one; a meta server
// answering ERR_FORWARD_TO_OTHERS is followed to the leader it names (at
// most Options.MaxForwards times). The first final answer is returned as
// is: the caller reads resp.GetError() for table-level errors such as
// ERR_APP_NOT_EXIST.
//
// The error is non-nil only when no meta server served the call: it wraps
// ErrIncompatible if a server refused the caller's protocol version,
// ErrDenied if every server that answered refused the caller's
// credentials, else ErrNoLeader if servers answered but only to redirect,
// else ErrUnreachable; or the caller's context error, which ends the call
// at once.
func CallMeta[R Response](ctx context.Context, c *Conns, call func(context.Context, pb.MetaClient) (R, error), opts ...CallOption) (R, error) {
	resp, _, err := CallMetaFrom(ctx, c, call, opts...)
	return resp, err
}

// CallMetaFrom is CallMeta that also returns the address of the meta
// server that answered.
func CallMetaFrom[R Response](ctx context.Context, c *Conns, call func(context.Context, pb.MetaClient) (R, error), opts ...CallOption) (R, string, error) {
	var cfg callConfig
	for _, o := range opts {
		o(&cfg)
	}
	var zero R
	queue := c.callOrder()
	if len(queue) == 0 {
		return zero, "", fmt.Errorf("%w: no meta server configured", ErrUnreachable)
	}
	type answer struct {
		addr string
		resp R
		err  error
	}
	tried := make(map[string]bool)
	var failures []string
	var fallback *answer
	forwards, asked := 0, 0
	forwarded, incompatible, denied, reached := false, false, false, false
	for len(queue) > 0 {
		// The batch to ask now: one server, or with FanOut every server
		// not yet tried once one attempt failed.
		var batch []string
		for len(queue) > 0 && (len(batch) == 0 || cfg.fanOut && asked > 0) {
			addr := queue[0]
			queue = queue[1:]
			if !tried[addr] {
				tried[addr] = true
				batch = append(batch, addr)
			}
		}
		if len(batch) == 0 {
			break
		}
		asked += len(batch)
		bctx, cancel := context.WithCancel(ctx)
		answers := make(chan answer, len(batch))
		for _, addr := range batch {
			go func() {
				resp, err := callOne(bctx, ctx, c, addr, call)
				answers <- answer{addr, resp, err}
			}()
		}
		var hints []string
		for range batch {
			a := <-answers
			switch {
			case a.err != nil:
				if !errors.Is(a.err, context.Canceled) && !errors.Is(a.err, ErrClosed) {
					// The next call starts elsewhere: a server that
					// refuses or hangs must not take every call's deadline.
					c.demote(a.addr)
				}
				if ctx.Err() != nil || errors.Is(a.err, context.DeadlineExceeded) || errors.Is(a.err, ErrClosed) {
					cancel()
					return zero, "", a.err
				}
				// An incompatible server may be one already upgraded (or
				// not yet) in a rolling upgrade: another may still serve
				// the call.
				incompatible = incompatible || errors.Is(a.err, ErrIncompatible)
				denied = denied || errors.Is(a.err, ErrDenied)
				failures = append(failures, failureDetail(a.err))
			case a.resp.GetError().GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
				forwarded, reached = true, true
				hint := a.resp.GetError().GetPrimary()
				failures = append(failures, fmt.Sprintf("%s forwarded to %q", a.addr, hint))
				if hint != "" && !tried[hint] && forwards < c.opts.MaxForwards {
					forwards++
					c.learn(hint)
					// The named leader goes first; the rest stay as
					// fallbacks.
					hints = append(hints, hint)
				}
			case cfg.retry != nil && cfg.retry(a.resp.GetError()):
				reached = true
				fallback = &a
				failures = append(failures, fmt.Sprintf("%s answered %s", a.addr, a.resp.GetError().GetCode()))
			default:
				cancel()
				c.setLeader(a.addr)
				return a.resp, a.addr, nil
			}
		}
		cancel()
		queue = append(hints, queue...)
	}
	if fallback != nil {
		return fallback.resp, fallback.addr, nil
	}
	kind := ErrUnreachable
	switch {
	case incompatible:
		kind = ErrIncompatible
	case denied && !reached:
		kind = ErrDenied
	case forwarded:
		kind = ErrNoLeader
	}
	return zero, "", fmt.Errorf("%w: %s", kind, strings.Join(failures, "; "))
}

// failureDetail is one server's failure without the kind's prefix: the
// summary names the kind once.
func failureDetail(err error) string {
	s := err.Error()
	for _, kind := range []error{ErrUnreachable, ErrIncompatible, ErrDenied} {
		s = strings.TrimPrefix(s, kind.Error()+": ")
	}
	return s
}

// CallServer calls one server without following redirects, for commands
// addressed to a specific server. service picks the gRPC service on the
// connection (e.g. pb.NewReplicaAdminClient). Errors are those of
// CallMeta.
func CallServer[C any, R any](ctx context.Context, c *Conns, addr string, service func(*Conns, context.Context, string) (C, error), call func(context.Context, C) (R, error)) (R, error) {
	attemptCtx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	return attempt(attemptCtx, ctx, c, addr, service, call)
}

// callOne asks one meta server, bounded by the attempt timeout. bctx ends
// when another server of a fanned-out batch answered; ctx is the caller's.
func callOne[R Response](bctx, ctx context.Context, c *Conns, addr string, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	attemptCtx, cancel := context.WithTimeout(bctx, c.opts.CallTimeout)
	defer cancel()
	return attempt(attemptCtx, ctx, c, addr, (*Conns).Meta, call)
}

func attempt[C any, R any](attemptCtx, ctx context.Context, c *Conns, addr string, service func(*Conns, context.Context, string) (C, error), call func(context.Context, C) (R, error)) (R, error) {
	var zero R
	client, err := service(c, attemptCtx, addr)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return zero, fmt.Errorf("dial: %s: %w", addr, ctxErr)
		}
		if attemptCtx.Err() != nil && !errors.Is(err, ErrClosed) {
			// The attempt's own timeout, not the caller's: another
			// server may still serve the call.
			return zero, fmt.Errorf("%w: %s: not connected within the attempt timeout %s", ErrUnreachable, addr, c.opts.CallTimeout)
		}
		return zero, err
	}
	resp, err := call(attemptCtx, client)
	if err != nil {
		return zero, classify(ctx, attemptCtx, addr, err)
	}
	return resp, nil
}

// classify turns a failed call into one of the package's errors. ctx is
// the caller's context, callCtx the one of this attempt.
func classify(ctx, callCtx context.Context, addr string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("dial: %s: %w", addr, ctxErr)
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		// The server enforces the deadline too and may report it before
		// the caller's context notices. When the caller's deadline is the
		// one that passed, say so: asking another server is pointless.
		parent, ok := ctx.Deadline()
		call, _ := callCtx.Deadline()
		if ok && !parent.After(call) {
			return fmt.Errorf("dial: %s: %w", addr, context.DeadlineExceeded)
		}
	case codes.FailedPrecondition, codes.Unimplemented:
		return fmt.Errorf("%w: %s: %v", ErrIncompatible, addr, status.Convert(err).Message())
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%w: %s: %v", ErrDenied, addr, status.Convert(err).Message())
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, status.Convert(err).Message())
}
