package replica

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/metrics/metricstest"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Exactly-once for non-idempotent writes: a retry of an incr or a
// check_and_set (the same RequestID) whose original was applied is answered
// with the original result and never executed again, also by a replica that
// restarted, installed a checkpoint or was promoted since.

// counterKey is the record the tests increment; it lives in partition 0 of
// a one-partition table.
const counterKey = "counter"

// retriedWrites are an incr and a check_and_set, each with a fixed
// RequestID, whose second execution would answer differently from the
// first: the counter would move on, and the check ("flag" does not exist)
// would fail once the first execution set it.
func retriedWrites() (incr, cas *pb.ClientRequest) {
	incr = request(counterKey, 1, &pb.IncrRequest{HashKey: []byte(counterKey), Increment: 5})
	incr.RequestId = &pb.RequestID{ClientId: 0xC0FFEE, Seq: 1}
	cas = request(counterKey, 1, &pb.CheckAndSetRequest{
		HashKey: []byte(counterKey), CheckSortKey: []byte("flag"), CheckType: pb.CheckType_CT_VALUE_NOT_EXIST,
		SetValue: []byte("set-once"), ReturnCheckValue: true,
	})
	cas.RequestId = &pb.RequestID{ClientId: 0xC0FFEE, Seq: 2}
	return incr, cas
}

// checkOriginalAnswers checks the answers an incr and a check_and_set from
// retriedWrites get, first or retried: the first execution's results.
func checkOriginalAnswers(t *testing.T, when string, incr, cas *pb.ClientResponse) {
	t.Helper()
	if code(incr) != pb.ErrorCode_ERR_OK || incr.GetIncr().GetNewValue() != 5 {
		t.Errorf("%s: incr answered %v new_value=%d, want OK 5 (the original result)", when, incr.GetError(), incr.GetIncr().GetNewValue())
	}
	r := cas.GetCheckAndSet()
	if code(cas) != pb.ErrorCode_ERR_OK || !r.GetSetSucceed() || !r.GetCheckValueReturned() || r.GetCheckValueExist() {
		t.Errorf("%s: check_and_set answered %v %+v, want OK set_succeed with no check value (the original result)", when, cas.GetError(), r)
	}
}

// servedByPrimary sends req to partition 0's primary, on a new stream,
// until an answer other than a routing refusal or a momentary overload comes
// back (a restarted or promoted primary refuses writes for a moment).
func servedByPrimary(t *testing.T, c *testCluster, req *pb.ClientRequest) *pb.ClientResponse {
	t.Helper()
	var resp *pb.ClientResponse
	c.waitFor(30*time.Second, "an answer from the primary", func() bool {
		primary := c.meta.config(0).Primary
		if primary == "" || c.servers[c.index(primary)].srv == nil {
			return false
		}
		resp = openRawStream(t, primary).do(req)
		switch code(resp) {
		case pb.ErrorCode_ERR_INVALID_STATE, pb.ErrorCode_ERR_OBJECT_NOT_FOUND, pb.ErrorCode_ERR_INACTIVE_STATE,
			pb.ErrorCode_ERR_STALE_BALLOT, pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER, pb.ErrorCode_ERR_CAPACITY_EXCEEDED,
			pb.ErrorCode_ERR_BUSY:
			return false
		}
		return true
	})
	return resp
}

// counterValue reads the counter from the primary.
func counterValue(t *testing.T, c *testCluster) string {
	t.Helper()
	resp := servedByPrimary(t, c, request(counterKey, 1, &pb.GetRequest{HashKey: []byte(counterKey)}))
	if code(resp) != pb.ErrorCode_ERR_OK {
		t.Fatalf("get %s: %v", counterKey, resp.GetError())
	}
	return string(resp.GetGet().GetValue())
}

// TestRetryAfterRestartAnsweredWithOriginal: the incr and check_and_set are
// applied, every replica server restarts, and their retries get the first
// results while the counter moves once. A graceful stop flushes the stores,
// so the restart replays no log entry: the answer comes from what the store
// kept. A crash keeps nothing unflushed: the log replays the writes again
// (the same decrees, the same results).
func TestRetryAfterRestartAnsweredWithOriginal(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := map[bool]string{false: "graceful", true: "crash"}[crash]
		t.Run(name, func(t *testing.T) {
			c := newTestCluster(t, 3, clusterOptions{})
			c.meta.createTable("test", testApp, [][]string{{c.addr(0), c.addr(1), c.addr(2)}})
			c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

			incr, cas := retriedWrites()
			checkOriginalAnswers(t, "first execution", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
			c.waitFor(10*time.Second, "applied everywhere", func() bool { return c.converged(testApp, 0) })

			for i := range c.servers {
				if crash {
					c.kill(i)
				} else {
					c.stop(i)
				}
			}
			for i := range c.servers {
				c.start(i)
			}
			c.waitFor(30*time.Second, "healthy after the restart", func() bool { return c.healthy(testApp, 0) })
			if !crash {
				for i := range c.servers {
					if n := c.replica(i, testApp, 0).stats.replayedEntries; n != 0 {
						t.Fatalf("server %d replayed %d entries after a graceful stop", i, n)
					}
				}
			}

			checkOriginalAnswers(t, "retry after the restart", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
			if got := counterValue(t, c); got != "5" {
				t.Fatalf("counter = %q after one incr of 5 and its retry", got)
			}
		})
	}
}

// TestRetryAfterFailover: the incr and check_and_set are applied everywhere,
// a secondary restarts (gracefully: its store is flushed, so it replays no
// log entry and its core has seen neither request), then the primary crashes
// and the meta fails over to that secondary. The retries reaching the new
// primary get the first results and the counter moves once.
func TestRetryAfterFailover(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, s := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, s}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	incr, cas := retriedWrites()
	checkOriginalAnswers(t, "first execution", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	c.waitFor(10*time.Second, "applied everywhere", func() bool { return c.converged(testApp, 0) })

	c.stop(1)
	c.start(1)
	c.waitFor(30*time.Second, "the restarted secondary back", func() bool { return c.healthy(testApp, 0) })
	if n := c.replica(1, testApp, 0).stats.replayedEntries; n != 0 {
		t.Fatalf("the restarted secondary replayed %d entries after a graceful stop", n)
	}

	c.kill(0)
	c.meta.change(0, "fail over to "+b, func(pc *pb.PartitionConfiguration) {
		pc.Primary, pc.Secondaries = b, []string{s}
		pc.LastDrops = append(remove(pc.LastDrops, a), a)
	})
	c.waitFor(30*time.Second, "the restarted secondary primary", func() bool {
		cfg := c.meta.config(0)
		v := c.replica(1, testApp, 0).view.Load()
		return cfg.Primary == b && v.status == pacifica.StatusPrimary && int64(v.ballot) == cfg.Ballot
	})
	checkOriginalAnswers(t, "retry after the failover", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	if got := counterValue(t, c); got != "5" {
		t.Fatalf("counter = %q after one incr of 5 and its retry", got)
	}
}

// TestRetryAfterCheckpointInstallAndPromotion: a replica that missed the
// writes learns them from a checkpoint (the primary's log no longer holds
// them), is promoted to primary, and answers their retries with the first
// results.
func TestRetryAfterCheckpointInstallAndPromotion(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{
		// A tiny entry cache and small segments: once the primary flushed,
		// the learner's gap is in neither its memory nor its log.
		core:         func(cfg *pacifica.Config) { cfg.CacheEntries, cfg.CacheBytes = 8, 4<<10 },
		segmentBytes: 16 << 10,
	})
	a, b, learner := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, learner}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	// The future learner crashes and is removed (its prepares time out).
	c.kill(2)
	filler := request("filler", 1, &pb.SetRequest{HashKey: []byte("filler"), Value: []byte(strings.Repeat("x", 1024))})
	c.waitFor(30*time.Second, "the crashed replica removed", func() bool {
		servedByPrimary(t, c, filler)
		return !slices.Contains(c.meta.config(0).Secondaries, learner)
	})

	incr, cas := retriedWrites()
	checkOriginalAnswers(t, "first execution", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	// Enough after them to roll the log over several segments, then a
	// flush that trims the log below them.
	for i := range 100 {
		w := request("filler", 1, &pb.SetRequest{HashKey: []byte("filler"), SortKey: fmt.Appendf(nil, "%d", i), Value: []byte(strings.Repeat("y", 1024))})
		if resp := servedByPrimary(t, c, w); code(resp) != pb.ErrorCode_ERR_OK {
			t.Fatalf("filler write: %v", resp.GetError())
		}
	}
	if out := adminCommand(t, a, "replica.trigger-checkpoint", fmt.Sprint(testApp), "0"); strings.Contains(out, "removed=0") {
		t.Fatalf("trigger-checkpoint did not trim the primary's log: %s", out)
	}

	c.start(2)
	c.waitFor(60*time.Second, "the learner back as secondary", func() bool { return c.healthy(testApp, 0) })
	if n := c.replica(2, testApp, 0).stats.ckptInstalled.Load(); n == 0 {
		t.Fatal("the replica caught up without installing a checkpoint")
	}

	c.meta.change(0, "promote "+learner, func(pc *pb.PartitionConfiguration) {
		pc.Primary, pc.Secondaries = learner, []string{a, b}
	})
	c.waitFor(30*time.Second, "the learner primary", func() bool {
		return c.meta.config(0).Primary == learner && c.healthy(testApp, 0)
	})
	checkOriginalAnswers(t, "retry at the promoted learner", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	if got := counterValue(t, c); got != "5" {
		t.Fatalf("counter = %q after one incr of 5 and its retry", got)
	}
}

// TestLargeMaxInflightMutations: max_inflight_mutations above 8192 once
// made every replica fail to open (the core's request-id table had to hold
// twice as many entries and was sized at 16384). Every value the
// configuration accepts must give a core that opens and serves.
func TestLargeMaxInflightMutations(t *testing.T) {
	for _, n := range []int{1, 256, 8192, 8193, 100000} {
		cfg := config.DefaultReplica()
		cfg.MaxInflightMutations = n
		if err := cfg.Validate(); err != nil {
			t.Fatalf("max_inflight_mutations %d refused: %v", n, err)
		}
		s := &Server{cfg: cfg, opts: Options{TickInterval: DefaultTickInterval}, node: "n1"}
		if _, err := pacifica.New(s.coreConfig(replicaInfo{MaxReplicaCount: 3}), pacifica.DurableState{}, s.mono()); err != nil {
			t.Errorf("max_inflight_mutations %d: the replication core refuses its config: %v", n, err)
		}
	}

	c := newTestCluster(t, 1, clusterOptions{config: func(cfg *config.Replica) { cfg.MaxInflightMutations = 10000 }})
	c.meta.createTable("test", testApp, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "the replica open and primary", func() bool { return c.healthy(testApp, 0) })
	incr, _ := retriedWrites()
	if resp := servedByPrimary(t, c, incr); code(resp) != pb.ErrorCode_ERR_OK {
		t.Fatalf("incr: %v", resp.GetError())
	}
}

// TestRetryAfterRetentionRunsAgain: request records are kept for the
// retention (write_dedup_retention_seconds, at least the clients' retry
// window plus a clock allowance), timed by the apply clock. A retry that
// arrives after its record was collected is executed again: the documented
// end of the guarantee, which no client of ours can reach (it stops
// retrying within the window).
func TestRetryAfterRetentionRunsAgain(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{dedupRetention: time.Second})
	c.meta.createTable("test", testApp, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	incr, cas := retriedWrites()
	checkOriginalAnswers(t, "first execution", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	checkOriginalAnswers(t, "retry within the retention", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))

	// Later writes move the apply clock past the records' retention; the
	// sweeper (every second) then collects them.
	p := c.replica(0, testApp, 0)
	tick := request("filler", 1, &pb.SetRequest{HashKey: []byte("filler"), Value: []byte("x")})
	metricsURL := "http://" + c.servers[0].srv.HTTPAddr() + "/metrics"
	c.waitFor(30*time.Second, "the request records collected", func() bool {
		servedByPrimary(t, c, tick)
		return metricstest.Sample(metricstest.Scrape(t, metricsURL), "pegasus_replica_request_record_collections_total") >= 1
	})
	for seq := uint64(1); seq <= 2; seq++ {
		if _, known, err := p.store.Load().AppliedRequest(storageID(pacifica.RequestID{ClientID: 0xC0FFEE, Seq: seq})); err != nil || known {
			t.Fatalf("request %d: known=%v err=%v after its record's collection", seq, known, err)
		}
	}
	m := metricstest.Scrape(t, metricsURL)
	if got := metricstest.Sample(m, "pegasus_replica_write_retries_answered_total"); got != 2 {
		t.Errorf("pegasus_replica_write_retries_answered_total = %v, want 2 (the retries within the retention)", got)
	}

	resp := servedByPrimary(t, c, incr)
	if code(resp) != pb.ErrorCode_ERR_OK || resp.GetIncr().GetNewValue() != 10 {
		t.Fatalf("retry after the retention: %v new_value=%d, want it executed again (10)", resp.GetError(), resp.GetIncr().GetNewValue())
	}
	if r := servedByPrimary(t, c, cas).GetCheckAndSet(); r.GetSetSucceed() || !r.GetCheckValueExist() {
		t.Fatalf("check_and_set retry after the retention: %+v, want it executed again (check fails)", r)
	}
}

// TestLateFirstAttemptAnsweredWithOriginal: a request's first attempt may
// reach the primary after its retry was applied (it waited in a socket
// buffer or on a connection the client gave up on). It is answered with the
// retry's result and not executed again: attempt numbers say nothing about
// the order in which attempts arrive.
func TestLateFirstAttemptAnsweredWithOriginal(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	c.meta.createTable("test", testApp, [][]string{{c.addr(0), c.addr(1), c.addr(2)}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	incr, cas := retriedWrites()
	incr.RequestId.Attempt, cas.RequestId.Attempt = 2, 2
	checkOriginalAnswers(t, "the retry, first to arrive", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	incr.RequestId.Attempt, cas.RequestId.Attempt = 1, 1
	checkOriginalAnswers(t, "the late first attempt", servedByPrimary(t, c, incr), servedByPrimary(t, c, cas))
	if got := counterValue(t, c); got != "5" {
		t.Fatalf("counter = %q after one incr of 5 and its late first attempt", got)
	}
}
