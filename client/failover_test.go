package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// keyIn returns a hash key that routes to partition pidx of n.
func keyIn(pidx, n int, tag string) []byte {
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("%s-%d", tag, i))
		if PartitionHash(k, nil)%uint64(n) == uint64(pidx) {
			return k
		}
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func requests(rs ...*fakeReplica) (n int64) {
	for _, r := range rs {
		n += r.requests.Load()
	}
	return n
}

// TestRefreshOnMovedPrimary moves a partition's primary and lets 64
// operations hit the old one at once. Whether the old primary says "not
// primary" without a hint or "not found", the client asks the meta server
// once (the refreshes coalesce), retries at the new primary, and goes there
// directly afterwards.
func TestRefreshOnMovedPrimary(t *testing.T) {
	for _, old := range []oldPrimaryAnswer{answerNoHint, answerNotFound} {
		t.Run(fmt.Sprint(old), func(t *testing.T) {
			fc := newFakeCluster(t, 1, 2)
			fc.createTable("t", 4)
			tbl := fc.open(fc.newClient(nil), "t")
			ctx := testCtx(t)
			hk := keyIn(0, 4, "moved")
			if err := tbl.Set(ctx, hk, b("s"), b("v"), 0); err != nil {
				t.Fatal(err)
			}
			from, to := fc.replica(fc.primaryOf("t", 0)), fc.replicas[1]
			fc.movePrimary("t", 0, to.addr, old, true)
			queries := fc.metaQueries()

			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, found, err := tbl.Get(ctx, hk, b("s"))
					if err == nil && (!found || string(v) != "v") {
						err = fmt.Errorf("Get = %q, %v", v, found)
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := fc.metaQueries() - queries; got != 1 {
				t.Fatalf("64 operations on a moved partition queried the meta server %d times, want 1", got)
			}
			// Now routed straight to the new primary.
			fromBefore := from.requests.Load()
			if _, _, err := tbl.Get(ctx, hk, b("s")); err != nil {
				t.Fatal(err)
			}
			if from.requests.Load() != fromBefore {
				t.Fatal("after the refresh, the old primary was asked again")
			}
		})
	}
}

func (a oldPrimaryAnswer) String() string {
	return [...]string{"hint", "stale-hint", "no-hint", "not-found"}[a]
}

// TestHintFollowing: the old primary names the new one. The client goes
// there at once without asking the meta server, and remembers the new
// primary only when the hint's ballot is newer than its cache.
func TestHintFollowing(t *testing.T) {
	for _, tc := range []struct {
		answer     oldPrimaryAnswer
		remembered bool
	}{
		{answerHint, true},
		{answerStaleHint, false},
	} {
		t.Run(tc.answer.String(), func(t *testing.T) {
			fc := newFakeCluster(t, 1, 2)
			fc.createTable("t", 2)
			tbl := fc.open(fc.newClient(nil), "t")
			ctx := testCtx(t)
			hk := keyIn(0, 2, "hint")
			from, to := fc.replica(fc.primaryOf("t", 0)), fc.replicas[1]
			fc.movePrimary("t", 0, to.addr, tc.answer, false) // the meta server lags
			queries := fc.metaQueries()

			if err := tbl.Set(ctx, hk, b("s"), b("v"), 0); err != nil {
				t.Fatal(err)
			}
			if from.requests.Load() != 1 || to.requests.Load() != 1 {
				t.Fatalf("old primary saw %d requests, new %d; want 1 and 1", from.requests.Load(), to.requests.Load())
			}
			if _, _, err := tbl.Get(ctx, hk, b("s")); err != nil {
				t.Fatal(err)
			}
			wantFrom := int64(1)
			if !tc.remembered {
				wantFrom = 2
			}
			if got := from.requests.Load(); got != wantFrom {
				t.Fatalf("old primary saw %d requests after a second operation, want %d", got, wantFrom)
			}
			if fc.metaQueries() != queries {
				t.Fatal("following a hint queried the meta server")
			}
			if n := fc.applied("t", 0); n != 1 {
				t.Fatalf("write applied %d times", n)
			}
		})
	}
}

// TestHintLoopIsBounded: two replicas that name each other must not make
// the client bounce between them forever; it falls back to the meta server.
func TestHintLoopIsBounded(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	a, bb := fc.replicas[0], fc.replicas[1]
	a.setHook(func(*pb.ClientRequest) fault {
		return fault{code: pb.ErrorCode_ERR_INVALID_STATE, hint: bb.addr, hintBallot: 1}
	})
	bb.setHook(func(*pb.ClientRequest) fault {
		return fault{code: pb.ErrorCode_ERR_INVALID_STATE, hint: a.addr, hintBallot: 1}
	})
	queries := fc.metaQueries()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := tbl.Get(ctx, b("h"), b("s"))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get = %v, want ErrTimeout", err)
	}
	hops := requests(a, bb)
	refreshes := fc.metaQueries() - queries
	if refreshes == 0 || hops > (refreshes+1)*(maxHintHops+1) {
		t.Fatalf("%d requests for %d meta queries: hint hops are not bounded by %d", hops, refreshes, maxHintHops)
	}
}

// TestMetaLagsBehindMove: the old primary gives no hint and the meta server
// still names it. The client keeps refreshing, paced, until the meta server
// catches up, and then succeeds.
func TestMetaLagsBehindMove(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	fc.movePrimary("t", 0, fc.replicas[1].addr, answerNoHint, false)
	queries := fc.metaQueries()
	start := time.Now()
	time.AfterFunc(50*time.Millisecond, func() { fc.syncMeta("t") })

	if err := tbl.Set(testCtx(t), b("h"), b("s"), b("v"), 0); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	refreshes := fc.metaQueries() - queries
	if refreshes < 2 {
		t.Fatalf("%d meta queries; the client should have refreshed until the meta server caught up", refreshes)
	}
	if limit := int64(elapsed/minRefreshInterval) + 2; refreshes > limit {
		t.Fatalf("%d meta queries in %v: more than one per %v", refreshes, elapsed, minRefreshInterval)
	}
	if n := fc.applied("t", 0); n != 1 {
		t.Fatalf("write applied %d times", n)
	}
}

// TestBusyRetriedWithoutRefresh: ERR_NOT_ENOUGH_MEMBER, ERR_BUSY and
// ERR_CAPACITY_EXCEEDED are waited out at the same primary, without asking
// the meta server.
func TestBusyRetriedWithoutRefresh(t *testing.T) {
	for _, code := range []pb.ErrorCode{pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER, pb.ErrorCode_ERR_BUSY, pb.ErrorCode_ERR_CAPACITY_EXCEEDED} {
		t.Run(code.String(), func(t *testing.T) {
			fc := newFakeCluster(t, 1, 1)
			fc.createTable("t", 1)
			tbl := fc.open(fc.newClient(nil), "t")
			var n atomic.Int32
			fc.replicas[0].setHook(func(*pb.ClientRequest) fault {
				if n.Add(1) <= 3 {
					return fault{code: code}
				}
				return fault{}
			})
			queries := fc.metaQueries()
			if err := tbl.Set(testCtx(t), b("h"), b("s"), b("v"), 0); err != nil {
				t.Fatal(err)
			}
			if got := fc.replicas[0].requests.Load(); got != 4 {
				t.Fatalf("%d attempts, want 4", got)
			}
			if fc.metaQueries() != queries {
				t.Fatal("a busy primary made the client query the meta server")
			}
			if got := fc.applied("t", 0); got != 1 {
				t.Fatalf("write applied %d times", got)
			}
		})
	}
}

func TestBackoffDelays(t *testing.T) {
	bo := Backoff{Base: 5 * time.Millisecond, Cap: 200 * time.Millisecond, Jitter: 0.5}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 200, 200}
	for n, w := range want {
		w *= time.Millisecond
		if got := bo.delay(n, 0); got != w {
			t.Errorf("delay(%d) without jitter = %v, want %v", n, got, w)
		}
		if got := bo.delay(n, 0.999); got < w/2 || got > w {
			t.Errorf("delay(%d) with full jitter = %v, want in [%v, %v]", n, got, w/2, w)
		}
	}
	if got := bo.delay(1000, 0); got != bo.Cap {
		t.Errorf("delay(1000) = %v, want the cap", got)
	}
}

// TestBackoffBoundedByDeadline: a primary that keeps refusing is retried
// with growing waits up to the cap, and the operation ends at its deadline
// with ErrTimeout, reporting the last refusal.
func TestBackoffBoundedByDeadline(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(func(c *Config) {
		c.BusyBackoff = Backoff{Base: 5 * time.Millisecond, Cap: 20 * time.Millisecond}
	}), "t")
	fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER} })

	const budget = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err := tbl.Set(ctx, b("h"), b("s"), b("v"), 0)
	elapsed := time.Since(start)

	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "ERR_NOT_ENOUGH_MEMBER") {
		t.Fatalf("the error does not report the last refusal: %v", err)
	}
	// Waits of 5, 10, then 20 ms: at most 12 attempts fit in 200 ms (a
	// constant 5 ms would allow 40). The client stops when the next wait
	// would pass the deadline, i.e. at most one cap early.
	if n := fc.replicas[0].requests.Load(); n < 3 || n > 12 {
		t.Fatalf("%d attempts in %v", n, budget)
	}
	if elapsed < budget-20*time.Millisecond || elapsed > budget+time.Second {
		t.Fatalf("Set returned after %v with a %v deadline", elapsed, budget)
	}
}

// TestUnknownOutcome: a write that reached a server without a definitive
// answer before the deadline is reported as both ErrTimeout and
// ErrUnknownOutcome; a write that provably never took effect, and any read,
// is not.
func TestUnknownOutcome(t *testing.T) {
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("write sent, never answered", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{swallow: true} })
		err := tbl.Set(short(), b("h"), b("s"), b("v"), 0)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Set = %v, want ErrTimeout and ErrUnknownOutcome", err)
		}
		if fc.applied("t", 0) != 1 {
			t.Fatal("the fake did not apply the swallowed write; the test proves nothing")
		}
	})
	t.Run("write sent, stream broke every time", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{dropAfter: true} })
		_, err := tbl.Incr(short(), b("h"), b("n"), 1, nil)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Incr = %v, want ErrTimeout and ErrUnknownOutcome", err)
		}
		if n := fc.applied("t", 0); n != 1 {
			t.Fatalf("the retried Incr was applied %d times, want exactly 1", n)
		}
	})
	t.Run("write canceled in flight", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{swallow: true} })
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		err := tbl.Del(ctx, b("h"), b("s"))
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrTimeout) {
			t.Fatalf("Del = %v, want Canceled and ErrUnknownOutcome", err)
		}
	})
	t.Run("write refused outright", func(t *testing.T) {
		// The first wait outlasts the deadline, so the client gives up
		// after one refusal instead of racing the deadline with a second
		// attempt, whose fate would be unknown.
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(func(c *Config) { c.BusyBackoff = Backoff{Base: time.Second, Cap: time.Second} }), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: pb.ErrorCode_ERR_CAPACITY_EXCEEDED} })
		err := tbl.Set(short(), b("h"), b("s"), b("v"), 0)
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Set = %v, want ErrTimeout without ErrUnknownOutcome", err)
		}
		if !strings.Contains(err.Error(), "ERR_CAPACITY_EXCEEDED") || fc.replicas[0].requests.Load() != 1 {
			t.Fatalf("Set = %v after %d attempts, want one refused attempt", err, fc.replicas[0].requests.Load())
		}
	})
	t.Run("write never sent", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.movePrimary("t", 0, deadAddr(t), answerNotFound, true)
		err := tbl.Set(short(), b("h"), b("s"), b("v"), 0)
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Set to an unreachable primary = %v, want ErrTimeout without ErrUnknownOutcome", err)
		}
	})
	t.Run("read never answered", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{swallow: true} })
		_, _, err := tbl.Get(short(), b("h"), b("s"))
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Get = %v, want ErrTimeout without ErrUnknownOutcome", err)
		}
	})
}

// TestAppliedWithoutResultIsUnknownOutcome: a server that applied an Incr
// or a CheckAndSet and answered OK without its result (a bug on one side or
// the other) leaves the caller without the outcome it asked for, though the
// write took effect: that is an unknown outcome, never a definitive failure
// (which would say the write was not applied). It is not retried: a retry
// would be answered from the same record.
func TestAppliedWithoutResultIsUnknownOutcome(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	fc.replicas[0].setHook(func(req *pb.ClientRequest) fault { return fault{noResult: req.RequestId != nil} })
	ctx := testCtx(t)

	_, err := tbl.Incr(ctx, b("h"), b("n"), 1, nil)
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrInternal) {
		t.Fatalf("Incr answered OK without a result: %v, want ErrUnknownOutcome and ErrInternal", err)
	}
	_, err = tbl.CheckAndSet(ctx, b("h"), Check{SortKey: b("c"), Type: CheckValueNotExist}, b("c"), b("v"), nil)
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrInternal) {
		t.Fatalf("CheckAndSet answered OK without a result: %v, want ErrUnknownOutcome and ErrInternal", err)
	}
	if n := fc.replicas[0].requests.Load(); n != 2 {
		t.Fatalf("%d requests, want one per operation", n)
	}
	// A read answered without its result changed nothing: a definitive
	// failure.
	fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{noResult: true} })
	if _, _, err := tbl.Get(ctx, b("h"), b("n")); !errors.Is(err, ErrInternal) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("Get answered OK without a result: %v, want ErrInternal alone", err)
	}
}

// TestWriteRetriesEndWithTheWindow: however long the caller's context, a
// write is retried (with its RequestID) for at most the write retry window,
// which replica servers outlast with their request records; then its outcome
// is unknown. A read is not bound by it.
func TestWriteRetriesEndWithTheWindow(t *testing.T) {
	saved := writeRetryWindow
	writeRetryWindow = time.Second
	t.Cleanup(func() { writeRetryWindow = saved })
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(func(c *Config) { c.AttemptTimeout = 20 * time.Millisecond }), "t")
	var mu sync.Mutex
	ids := make(map[string]int)
	fc.replicas[0].setHook(func(req *pb.ClientRequest) fault {
		mu.Lock()
		defer mu.Unlock()
		id := req.GetRequestId()
		ids[fmt.Sprintf("%d:%d", id.GetClientId(), id.GetSeq())]++
		return fault{swallow: true}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	_, err := tbl.Incr(ctx, b("h"), b("n"), 1, nil)
	took := time.Since(began)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("Incr = %v, want ErrTimeout and ErrUnknownOutcome", err)
	}
	if took < writeRetryWindow || took > 10*time.Second {
		t.Fatalf("Incr gave up after %v; the window is %v and the context allowed a minute", took, writeRetryWindow)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 1 {
		t.Fatalf("attempts carried %d RequestIDs, want one: %v", len(ids), ids)
	}
	for _, n := range ids {
		if n < 2 {
			t.Fatalf("%d attempts, want retries within the window", n)
		}
	}
}

// TestLostReplyDeduplicated: the primary applies a write and the reply is
// lost with the stream. The client retries with the same RequestID on a new
// stream, the primary recognises it, and the write is applied once.
func TestLostReplyDeduplicated(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	r := fc.replicas[0]

	var mu sync.Mutex
	var ids []*pb.RequestID
	r.setHook(func(req *pb.ClientRequest) fault {
		if req.RequestId == nil {
			return fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, req.RequestId)
		return fault{dropAfter: len(ids) == 1}
	})
	got, err := tbl.Incr(ctx, b("h"), b("n"), 7, nil)
	if err != nil || got != 7 {
		t.Fatalf("Incr = %d, %v; want 7", got, err)
	}
	if len(ids) != 2 || ids[0].ClientId != ids[1].ClientId || ids[0].Seq != ids[1].Seq {
		t.Fatalf("attempts carried RequestIDs %v; want the same one twice", ids)
	}
	// The sends are numbered from 1, for the server's logs and metrics.
	if ids[0].Attempt != 1 || ids[1].Attempt != 2 {
		t.Fatalf("attempts numbered %d and %d, want 1 and 2", ids[0].Attempt, ids[1].Attempt)
	}
	if n := fc.applied("t", 0); n != 1 {
		t.Fatalf("Incr applied %d times, want 1", n)
	}
	if r.streams.Load() != 2 {
		t.Fatalf("%d streams, want 2: the broken one and its replacement", r.streams.Load())
	}
	v, _, _ := tbl.Get(ctx, b("h"), b("n"))
	if string(v) != "7" {
		t.Fatalf("stored value %q, want 7", v)
	}

	// A new operation gets a new RequestID and is applied again.
	if got, err := tbl.Incr(ctx, b("h"), b("n"), 1, nil); err != nil || got != 8 {
		t.Fatalf("second Incr = %d, %v; want 8", got, err)
	}
	if len(ids) != 3 || ids[2].Seq == ids[0].Seq {
		t.Fatal("a new operation reused the RequestID of the previous one")
	}
}

// TestStreamDropMidRequest: the stream breaks while a read is in flight;
// the read fails over to a new stream and succeeds.
func TestStreamDropMidRequest(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	tbl.Set(ctx, b("h"), b("s"), b("v"), 0)
	r := fc.replicas[0]
	var n atomic.Int32
	r.setHook(func(*pb.ClientRequest) fault { return fault{dropBefore: n.Add(1) == 1} })
	v, found, err := tbl.Get(ctx, b("h"), b("s"))
	if err != nil || !found || string(v) != "v" {
		t.Fatalf("Get across a dropped stream = %q, %v, %v", v, found, err)
	}
	if r.streams.Load() != 2 {
		t.Fatalf("%d streams, want 2", r.streams.Load())
	}
}

// TestLateReplyDropped: a request whose caller gave up is answered later;
// the late reply is dropped and the stream keeps serving others.
func TestLateReplyDropped(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	tbl.Set(ctx, b("h"), b("slow"), b("late"), 0)
	tbl.Set(ctx, b("h"), b("fast"), b("quick"), 0)
	r := fc.replicas[0]
	var slowServed atomic.Bool
	r.setHook(func(req *pb.ClientRequest) fault {
		if string(req.GetGet().GetSortKey()) == "slow" {
			time.AfterFunc(200*time.Millisecond, func() { slowServed.Store(true) })
			return fault{delay: 150 * time.Millisecond}
		}
		return fault{}
	})
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, _, err := tbl.Get(short, b("h"), b("slow")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow Get = %v, want ErrTimeout", err)
	}
	waitFor(t, slowServed.Load)
	for range 3 {
		v, _, err := tbl.Get(ctx, b("h"), b("fast"))
		if err != nil || string(v) != "quick" {
			t.Fatalf("Get after a late reply = %q, %v", v, err)
		}
	}
	if r.streams.Load() != 1 {
		t.Fatalf("%d streams: the late reply disturbed the stream", r.streams.Load())
	}
}

// TestSilentPrimaryLeftAfterAttemptTimeout: a primary cut off from the
// network answers nothing and keeps its stream open. Each attempt timeout
// makes the client ask the meta server again; once it names the new
// primary the write succeeds there, well inside its own deadline (which it
// would otherwise spend waiting on the silent server), and is applied once.
func TestSilentPrimaryLeftAfterAttemptTimeout(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(func(c *Config) { c.AttemptTimeout = 100 * time.Millisecond }), "t")
	silent, next := fc.replicas[0], fc.replicas[1]
	silent.setHook(func(*pb.ClientRequest) fault { return fault{delay: time.Hour} })
	time.AfterFunc(300*time.Millisecond, func() { fc.movePrimary("t", 0, next.addr, answerNoHint, true) })

	if err := tbl.Set(testCtx(t), b("h"), b("s"), b("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got := silent.requests.Load(); got < 2 {
		t.Fatalf("the silent primary got %d attempts, want at least 2 before the move", got)
	}
	if next.requests.Load() == 0 {
		t.Fatal("the new primary was never asked")
	}
	if n := fc.applied("t", 0); n != 1 {
		t.Fatalf("write applied %d times, want 1", n)
	}
}

// TestSlowPrimaryWaitedFor: a primary slower than AttemptTimeout is not
// given up on: each attempt at it waits twice as long as the one before.
func TestSlowPrimaryWaitedFor(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(func(c *Config) { c.AttemptTimeout = 100 * time.Millisecond }), "t")
	slow := fc.replicas[0]
	slow.setHook(func(*pb.ClientRequest) fault { return fault{delay: 250 * time.Millisecond} })
	if _, _, err := tbl.Get(testCtx(t), b("h"), b("s")); err != nil {
		t.Fatal(err)
	}
	// 100 ms and 200 ms are too short; 400 ms is enough on a quiet machine.
	if got := slow.requests.Load(); got < 3 {
		t.Fatalf("%d attempts, want at least 3", got)
	}
}
