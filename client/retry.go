package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// Backoff is a bounded exponential backoff: the n-th wait (from 0) is
// min(Cap, Base·2^n), shortened by a random fraction of at most Jitter so
// that clients failing together do not retry in lockstep.
//
// The zero Backoff stands for the default of the Config field it is in.
type Backoff struct {
	Base   time.Duration
	Cap    time.Duration
	Jitter float64 // in [0, 1]
}

func (b Backoff) orDefault(def Backoff, field string) (Backoff, error) {
	if b == (Backoff{}) {
		return def, nil
	}
	if b.Base <= 0 || b.Cap < b.Base || b.Jitter < 0 || b.Jitter > 1 || math.IsNaN(b.Jitter) {
		return b, fmt.Errorf("%w: Config.%s %+v needs 0 < Base <= Cap and 0 <= Jitter <= 1", ErrInvalidArgument, field, b)
	}
	return b, nil
}

// delay is the n-th wait, given a uniform random number rnd in [0, 1).
func (b Backoff) delay(n int, rnd float64) time.Duration {
	d := b.Cap
	if n < 62 {
		if grown := b.Base << n; grown > 0 && grown < b.Cap {
			d = grown
		}
	}
	return d - time.Duration(b.Jitter*rnd*float64(d))
}

// Bounds on retrying without any wait. Following a replica's hint or a
// refreshed route that moved costs nothing, but two replicas naming each
// other, or a meta server flapping between answers, must not spin.
const (
	maxHintHops         = 2
	maxImmediateRetries = 3
)

// opKind describes one kind of operation to the retry loop.
type opKind struct {
	name string
	// write operations carry a RequestID and can have an unknown outcome.
	write bool
	// hasResult reports whether a successful response carries the result
	// the operation needs; nil when it needs none.
	hasResult func(*pb.ClientResponse) bool
}

// attempts is the retry state of one operation.
type attempts struct {
	op    opKind
	table string
	n     int
	// last is the most recent failure, reported if the operation runs out
	// of time.
	last error
	// maybeApplied is set once a write reached a server without a
	// definitive answer coming back: from then on, unless a later attempt
	// succeeds, its outcome is unknown.
	maybeApplied bool
	hops         int
	immediate    int
	routingWaits int
	busyWaits    int
	// silent counts the attempts in a row that silentAt did not answer
	// within their attempt timeout.
	silent   int
	silentAt string
}

// attemptTimeout is the bound of the next attempt at addr: base, doubled
// for every attempt in a row that addr left unanswered, so that a server
// that is merely slow is eventually waited for.
func (a *attempts) attemptTimeout(addr string, base time.Duration) time.Duration {
	if addr != a.silentAt {
		a.silent, a.silentAt = 0, addr
	}
	return base << min(a.silent, 16)
}

// giveUp ends an operation whose context ended (or whose next wait would
// outlast it) without a definitive answer.
func (a *attempts) giveUp(ctx context.Context) error {
	e := &opError{op: a.op.name, table: a.table, attempts: a.n, last: a.last, unknown: a.maybeApplied}
	if errors.Is(ctx.Err(), context.Canceled) {
		e.ctxErr = context.Canceled
	} else {
		e.err, e.ctxErr = ErrTimeout, context.DeadlineExceeded
	}
	return e
}

// fail ends an operation with a definitive error.
func (a *attempts) fail(err error) error {
	return &opError{op: a.op.name, table: a.table, attempts: a.n, err: err, unknown: a.maybeApplied}
}

// wait sleeps the next delay of b, counted by *n. It returns false, without
// sleeping, when ctx ends first or would end during the wait: no attempt
// after the deadline can succeed, so the caller may as well hear now.
func (a *attempts) wait(ctx context.Context, b Backoff, n *int) bool {
	d := b.delay(*n, rand.Float64())
	*n++
	a.immediate = 0
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// invoke runs one operation: it routes body to the primary of the partition
// hash belongs to and retries, as the rules in errors.go say, until it gets a
// definitive answer or ctx ends. A write keeps the same RequestID across all
// its attempts, so a primary that already applied it answers the retry with
// the first outcome instead of applying it twice.
func (t *Table) invoke(ctx context.Context, op opKind, hash uint64, body *pb.ClientRequest) (*pb.ClientResponse, error) {
	ctx, cancel := t.c.opContext(ctx)
	defer cancel()
	cfg := &t.c.cfg
	a := attempts{op: op, table: t.name}
	var rid *pb.RequestID
	if op.write {
		// Servers remember a request for at least the retry window: never
		// retry it for longer (MaxWriteRetryWindow).
		var cancelWindow context.CancelFunc
		ctx, cancelWindow = context.WithTimeout(ctx, writeRetryWindow)
		defer cancelWindow()
		rid = t.c.writeIDs.Next()
	}
	hinted := "" // a primary named by a replica, asked next
	for {
		if ctx.Err() != nil {
			return nil, a.giveUp(ctx)
		}
		a.n++
		rt := t.routes.snapshot()
		pidx, route := rt.locate(hash)
		addr := route.primary
		if hinted != "" {
			addr, hinted = hinted, ""
		}

		var failure error
		var r rule
		hint, hintBallot := "", int64(0)
		if addr == "" {
			failure = fmt.Errorf("%w: partition %d.%d of table %q has no primary", ErrUnavailable, rt.appID, pidx, t.name)
			r = rule{kind: ErrUnavailable, retry: retryRefresh, rejected: true}
		} else {
			var res callResult
			limit := a.attemptTimeout(addr, cfg.AttemptTimeout)
			attemptCtx, cancelAttempt := context.WithTimeout(ctx, limit)
			if conn, terr := t.c.replica(addr); terr != nil {
				res = callResult{err: terr, rule: terr.rule}
			} else {
				res = conn.roundTrip(attemptCtx, &pb.ClientRequest{
					Gpid:          &pb.Gpid{AppId: rt.appID, PartitionIndex: pidx},
					PartitionHash: hash,
					// The server may work on until the operation's
					// deadline: a retry of a write joins it there.
					TimeoutMs: stream.RemainingMillis(ctx),
					// Kept across attempts; the stream numbers each
					// send in its Attempt.
					RequestId: rid,
					Op:        body.Op,
				})
			}
			attemptTimedOut := attemptCtx.Err() != nil
			cancelAttempt()
			switch {
			case res.err == nil && res.resp.GetError().GetCode() == pb.ErrorCode_ERR_OK:
				if op.hasResult != nil && !op.hasResult(res.resp) {
					// OK says the write took effect; without its result
					// the caller cannot know what it did. Not retried: a
					// retry is answered from the same record.
					a.maybeApplied = a.maybeApplied || op.write
					return nil, a.fail(malformed(addr, op.name, res.resp))
				}
				return res.resp, nil
			case res.err == nil:
				failure, r = serverError(addr, res.resp.GetError())
				hint, hintBallot = res.resp.GetError().GetPrimary(), res.resp.GetError().GetBallot()
			case ctx.Err() != nil:
				a.maybeApplied = a.maybeApplied || (op.write && res.sent)
				return nil, a.giveUp(ctx)
			case res.err != nil && attemptTimedOut:
				// No answer in time: the server may be cut off and
				// replaced. Ask the meta server; if it still names this
				// server, the next attempt waits twice as long.
				a.silent++
				failure = fmt.Errorf("%w: %s did not answer within %v", ErrUnavailable, addr, limit)
				r = rule{kind: ErrUnavailable, retry: retryRefresh}
			default:
				failure, r = res.err, res.rule
			}
			a.maybeApplied = a.maybeApplied || (op.write && res.sent && !r.rejected)
		}
		a.last = failure

		switch r.retry {
		case noRetry:
			return nil, a.fail(failure)
		case retryBusy:
			if !a.wait(ctx, cfg.BusyBackoff, &a.busyWaits) {
				return nil, a.giveUp(ctx)
			}
			continue
		case retryAtHint:
			if hint != "" && hint != addr && a.hops < maxHintHops {
				// The replica knows who the primary is: go there at once,
				// and remember it if the hint is newer than the cache.
				t.routes.learnPrimary(rt.appID, pidx, hint, hintBallot)
				hinted = hint
				a.hops++
				continue
			}
		}
		// retryRefresh, or a hint that cannot be followed.
		a.hops = 0
		if err := t.routes.refresh(ctx, rt.generation); err != nil {
			if ctx.Err() != nil {
				return nil, a.giveUp(ctx)
			}
			if errors.Is(err, ErrTableNotFound) {
				return nil, a.fail(err)
			}
			a.last = err
		} else if _, now := t.routes.snapshot().locate(hash); now.primary != "" && now.primary != addr && a.immediate < maxImmediateRetries {
			// The refresh moved the partition: the new primary has not
			// failed us yet, so there is nothing to wait for.
			a.immediate++
			continue
		}
		if !a.wait(ctx, cfg.RoutingBackoff, &a.routingWaits) {
			return nil, a.giveUp(ctx)
		}
	}
}
