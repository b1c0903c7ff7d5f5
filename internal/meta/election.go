package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// elector takes part in the leader election of the meta servers of one
// cluster (etcd concurrency.Election under /<cluster>/leader) and runs a
// term each time it wins.
//
// A term lasts as long as the etcd session behind it, and not a moment
// longer as far as this process can tell: the term's context is canceled
// as soon as the session ends or as soon as the lease could have expired
// without this process hearing about it (the lease guard below), whichever
// comes first. Store writes are fenced by the election key on top of
// that, so a term that overran its lease still cannot write.
type elector struct {
	cli    *clientv3.Client
	keys   keys
	self   string
	record metaRecord
	// ttl is the session TTL in seconds (election_ttl_seconds).
	ttl int
	log *slog.Logger
	// lead runs one term and returns when ctx ends (or earlier, if the
	// term ended by itself).
	lead func(ctx context.Context, fence Fence)
	// observed is told the leader's address whenever it changes.
	observed func(leader string)
	// aborting makes sessions end without resigning or revoking, as a
	// crash would (tests of takeover after a leader crash).
	aborting atomic.Bool
}

// run campaigns until ctx ends, one session after another.
func (e *elector) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		led, err := e.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.log.Warn("election session ended", "err", err)
		}
		if led {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// session runs one etcd session: register this meta server, watch who
// leads, campaign, and lead if elected. It reports whether it led.
func (e *elector) session(ctx context.Context) (bool, error) {
	start := time.Now()
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(e.ttl), concurrency.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("meta: etcd session: %w", err)
	}
	el := concurrency.NewElection(sess, e.keys.election())
	elected := false
	defer func() {
		if e.aborting.Load() {
			sess.Orphan()
			return
		}
		// Resigning and revoking at once lets a follower take over now
		// rather than after the TTL.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if elected {
			if err := el.Resign(rctx); err != nil {
				e.log.Debug("resign", "err", err)
			}
		}
		sess.Orphan()
		if _, err := e.cli.Revoke(rctx, sess.Lease()); err != nil {
			e.log.Debug("revoke session lease", "err", err)
		}
	}()

	// sctx ends with the session: etcd reports it gone, or the lease
	// guard finds it may have expired unheard.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	guard := newLeaseGuard(start, time.Duration(e.ttl)*time.Second)
	go guard.watch(sctx, e.cli, sess.Lease())
	go func() {
		select {
		case <-sess.Done():
			if sctx.Err() == nil {
				e.log.Warn("etcd session ended")
			}
		case <-guard.expired:
			e.log.Warn("etcd session lease may have expired: no keepalive answer in time")
		case <-sctx.Done():
		}
		cancel()
	}()

	rec, _ := json.Marshal(e.record)
	if _, err := e.cli.Put(sctx, e.keys.meta(e.self), string(rec), clientv3.WithLease(sess.Lease())); err != nil {
		return false, fmt.Errorf("meta: registering in etcd: %w", err)
	}
	go e.observe(sctx, el)
	if err := el.Campaign(sctx, e.self); err != nil {
		if sctx.Err() != nil {
			return false, nil
		}
		return false, fmt.Errorf("meta: campaign: %w", err)
	}
	elected = true
	fence := Fence{Key: el.Key(), Rev: el.Rev()}
	e.log.Info("elected leader", "key", fence.Key, "revision", fence.Rev)
	e.lead(sctx, fence)
	return true, nil
}

// observe reports the leader's address until ctx ends.
func (e *elector) observe(ctx context.Context, el *concurrency.Election) {
	for ctx.Err() == nil {
		for resp := range el.Observe(ctx) {
			if len(resp.Kvs) > 0 {
				e.observed(string(resp.Kvs[0].Value))
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaseGuard tracks until when the session's lease is known to be alive.
// Each keepalive answer renews the lease for TTL from the moment etcd
// handled it, which precedes our receipt by the answer's transit time; so
// the lease ends no earlier than receipt + TTL - transit. The guard's
// deadline is receipt + TTL - margin, a tenth of the TTL covering transit,
// clock drift over one TTL and the guard's own polling. If no answer
// extends it in time, expired closes: this process must act as if etcd had
// already handed leadership to another meta server. (Keepalives go out
// every TTL/3, so a healthy session never comes near the deadline.)
type leaseGuard struct {
	deadline atomic.Int64 // unix nanoseconds
	margin   time.Duration
	expired  chan struct{}
}

func newLeaseGuard(granted time.Time, ttl time.Duration) *leaseGuard {
	g := &leaseGuard{margin: ttl / 10, expired: make(chan struct{})}
	g.deadline.Store(granted.Add(ttl - g.margin).UnixNano())
	return g
}

func (g *leaseGuard) watch(ctx context.Context, cli *clientv3.Client, lease clientv3.LeaseID) {
	ka, err := cli.KeepAlive(ctx, lease)
	if err != nil {
		close(g.expired)
		return
	}
	check := time.NewTicker(g.margin / 4)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-ka:
			if !ok || resp.TTL <= 0 {
				close(g.expired)
				return
			}
			g.deadline.Store(time.Now().Add(time.Duration(resp.TTL)*time.Second - g.margin).UnixNano())
		case now := <-check.C:
			if now.UnixNano() > g.deadline.Load() {
				close(g.expired)
				return
			}
		}
	}
}
