package sim

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// client is a user of the Go client package, modelled on its retry loop
// (client/retry.go): a write keeps one RequestID across all its attempts;
// each attempt goes to the primary of the cached route (or to the primary a
// replica named), bounded by an attempt timeout that doubles while that
// server stays silent; the wire code of a failure decides, by the client's
// own table (ClientRules), whether to follow the hint, refresh the route
// from the meta servers, back off, or stop; and a write that reached a
// server without a definitive answer ends with an unknown outcome.
type client struct {
	w   *World
	p   *proc
	idx int
	// clientID and seq make RequestIDs, unique per run.
	clientID uint64
	seq      uint64

	// counters holds the last value seen of each counter key, for
	// check_and_set.
	counters map[string]int64

	metaLeader  string
	routes      []route
	loaded      bool
	lastRefresh time.Duration
}

type route struct {
	primary string
	ballot  int64
}

// Client defaults (client/config.go).
const (
	attemptTimeout = time.Second
	maxHintHops    = 2
	maxImmediate   = 3
	metaAttempt    = time.Second
	maxForwards    = 3
	minRefresh     = 10 * time.Millisecond
)

type backoff struct {
	base, cap time.Duration
	jitter    float64
}

var (
	routingBackoff = backoff{5 * time.Millisecond, 200 * time.Millisecond, 0.5}
	busyBackoff    = backoff{10 * time.Millisecond, 500 * time.Millisecond, 0.5}
)

func (b backoff) delay(n int, rnd float64) time.Duration {
	d := b.cap
	if n < 62 {
		if g := b.base << n; g > 0 && g < b.cap {
			d = g
		}
	}
	return d - time.Duration(b.jitter*rnd*float64(d))
}

// clientOp is one operation and its retry state.
type clientOp struct {
	m     mutation
	hash  uint64
	rid   pacifica.RequestID
	start time.Duration // true time, for the history
	// deadline is on the client's monotonic clock.
	deadline time.Duration

	n            int
	maybeApplied bool
	hops         int
	immediate    int
	routingWaits int
	busyWaits    int
	silent       int
	silentAt     string
	hinted       string

	done func(res opOutcome)
}

// opOutcome is how an operation ended.
type opOutcome struct {
	result outcomeKind
	a      answer
	end    time.Duration // true time
}

type outcomeKind uint8

const (
	outcomeOK outcomeKind = iota
	outcomeFailed
	outcomeUnknown
)

func (k outcomeKind) String() string {
	return [...]string{"ok", "failed", "unknown"}[k]
}

func (o *clientOp) write() bool { return o.m.kind != opGet }

// run starts an operation on key; done gets its outcome.
func (c *client) run(m mutation, timeout time.Duration, done func(opOutcome)) {
	op := &clientOp{
		m:        m,
		hash:     pegasusrpc.HashKeyHash([]byte(m.key)),
		start:    c.w.now,
		deadline: c.p.clock.mono() + timeout,
		done:     done,
	}
	if op.write() {
		c.seq++
		op.rid = pacifica.RequestID{ClientID: c.clientID, Seq: c.seq}
	}
	c.attempt(op)
}

func (c *client) pidx(op *clientOp) int32 { return int32(op.hash % uint64(c.w.table.partitions)) }

func (c *client) attempt(op *clientOp) {
	w := c.w
	now := c.p.clock.mono()
	if now >= op.deadline {
		c.giveUp(op)
		return
	}
	op.n++
	if !c.loaded {
		c.onFailure(op, "", RetryRule{Retry: RetryRefresh, Rejected: true}, "", 0)
		return
	}
	pidx := c.pidx(op)
	addr := c.routes[pidx].primary
	if op.hinted != "" {
		addr, op.hinted = op.hinted, ""
	}
	srv := w.node(addr)
	if srv == nil {
		c.onFailure(op, addr, RetryRule{Retry: RetryRefresh, Rejected: true}, "", 0)
		return
	}
	if addr != op.silentAt {
		op.silent, op.silentAt = 0, addr
	}
	limit := attemptTimeout << min(op.silent, 16)
	budget := min(limit, op.deadline-now)
	req := clientReq{
		g:       decide.Gpid{AppID: w.table.appID, Index: pidx},
		hash:    op.hash,
		m:       op.m,
		rid:     op.rid,
		attempt: op.n,
		timeout: max(op.deadline-now, time.Millisecond),
	}
	call(w.net, c.p, srv.p, budget, true, req, srv.handleClient, func(a answer, ok, sent bool) {
		var rule RetryRule
		switch {
		case ok && a.code == pb.ErrorCode_ERR_OK:
			c.finish(op, outcomeOK, a)
			return
		case ok:
			rule = ruleFor(a.code)
		case c.p.clock.mono() >= op.deadline:
			op.maybeApplied = op.maybeApplied || (op.write() && sent)
			c.giveUp(op)
			return
		case sent:
			// No answer in time: ask the meta server; if it still names
			// this server, the next attempt waits twice as long.
			op.silent++
			rule = RetryRule{Retry: RetryRefresh}
		default:
			rule = RetryRule{Retry: RetryRefresh} // connection refused
		}
		op.maybeApplied = op.maybeApplied || (op.write() && sent && !rule.Rejected)
		if rule.UnknownOutcome && op.write() {
			op.maybeApplied = true
		}
		c.onFailure(op, addr, rule, a.primary, a.ballot)
	})
}

// onFailure follows the rule of a failed attempt.
func (c *client) onFailure(op *clientOp, addr string, rule RetryRule, hint string, hintBallot int64) {
	switch rule.Retry {
	case NoRetry:
		c.fail(op)
		return
	case RetryBusy:
		c.wait(op, busyBackoff, &op.busyWaits)
		return
	case RetryAtHint:
		if hint != "" && hint != addr && op.hops < maxHintHops {
			c.learnPrimary(c.pidx(op), hint, hintBallot)
			op.hinted = hint
			op.hops++
			c.attempt(op)
			return
		}
	}
	op.hops = 0
	c.refresh(func(ok bool) {
		if c.p.clock.mono() >= op.deadline {
			c.giveUp(op)
			return
		}
		if ok {
			if now := c.routes[c.pidx(op)].primary; now != "" && now != addr && op.immediate < maxImmediate {
				op.immediate++
				c.attempt(op)
				return
			}
		}
		c.wait(op, routingBackoff, &op.routingWaits)
	})
}

// wait retries after the next delay of b, or gives up if the deadline would
// pass first.
func (c *client) wait(op *clientOp, b backoff, n *int) {
	d := b.delay(*n, c.w.rng.Float64())
	*n++
	op.immediate = 0
	if op.deadline-c.p.clock.mono() <= d {
		c.giveUp(op)
		return
	}
	c.w.after(c.p, d, func() { c.attempt(op) })
}

func (c *client) finish(op *clientOp, k outcomeKind, a answer) {
	op.done(opOutcome{result: k, a: a, end: c.w.now})
}

// fail ends the operation with a definitive error; a write that may have
// been applied by an earlier attempt is still unknown.
func (c *client) fail(op *clientOp) {
	if op.write() && op.maybeApplied {
		c.finish(op, outcomeUnknown, answer{})
		return
	}
	c.finish(op, outcomeFailed, answer{})
}

// giveUp ends an operation that ran out of time.
func (c *client) giveUp(op *clientOp) { c.fail(op) }

// learnPrimary takes a primary named by a replica if it is newer than the
// cached one.
func (c *client) learnPrimary(pidx int32, primary string, ballot int64) {
	if !c.loaded || c.routes[pidx].ballot >= ballot {
		return
	}
	c.routes[pidx] = route{primary: primary, ballot: ballot}
}

// refresh asks the meta servers for the table's configuration (the
// client's metaSession.queryConfig: the remembered server first, following
// ERR_FORWARD_TO_OTHERS, then the others), at most every minRefresh.
func (c *client) refresh(done func(ok bool)) {
	wait := max(0, c.lastRefresh+minRefresh-c.p.clock.mono())
	c.w.after(c.p, wait, func() {
		tried := make(map[string]bool)
		var order []string
		if c.metaLeader != "" {
			order = append(order, c.metaLeader)
		}
		for _, m := range c.w.metas {
			if m.name != c.metaLeader {
				order = append(order, m.name)
			}
		}
		var try func(addr string, forwards int)
		next := func(forwards int) {
			for _, a := range order {
				if !tried[a] {
					try(a, forwards)
					return
				}
			}
			c.lastRefresh = c.p.clock.mono()
			done(false)
		}
		try = func(addr string, forwards int) {
			tried[addr] = true
			m := c.w.meta(addr)
			call(c.w.net, c.p, m.p, metaAttempt, true, c.w.table.name, m.handleQuery, func(a queryAnswer, ok, _ bool) {
				switch {
				case !ok:
				case a.code == pb.ErrorCode_ERR_OK:
					c.metaLeader = addr
					c.install(a)
					c.lastRefresh = c.p.clock.mono()
					done(true)
					return
				case a.code == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
					if a.leader != "" && a.leader != addr {
						c.metaLeader = a.leader
						if forwards < maxForwards && !tried[a.leader] {
							try(a.leader, forwards+1)
							return
						}
					}
				}
				next(forwards)
			})
		}
		next(0)
	})
}

// install takes a configuration answer; a partition keeps its cached route
// if that one has a higher ballot.
func (c *client) install(a queryAnswer) {
	n := int(a.table.PartitionCount)
	if n <= 0 || len(a.configs) != n {
		return
	}
	fresh := make([]route, n)
	for _, cfg := range a.configs {
		fresh[cfg.Gpid.Index] = route{primary: cfg.Primary, ballot: cfg.Ballot}
	}
	if c.loaded && len(c.routes) == n {
		for i := range fresh {
			if c.routes[i].ballot > fresh[i].ballot {
				fresh[i] = c.routes[i]
			}
		}
	}
	c.routes, c.loaded = fresh, true
}
