package replica

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// setEnvs gives the fake meta's table envs at revision rev (sent in every
// beacon answer) and waits until every server applies them.
func (c *testCluster) setEnvs(envs map[string]string, rev int64) {
	c.t.Helper()
	c.meta.mu.Lock()
	c.meta.table.Envs, c.meta.table.EnvsRevision = envs, rev
	c.meta.mu.Unlock()
	c.waitFor(10*time.Second, fmt.Sprintf("envs revision %d on every server", rev), func() bool {
		for _, ts := range c.servers {
			if ts.srv.tableEnv(testApp).revision != rev {
				return false
			}
		}
		return true
	})
}

// Table envs take effect on a real replica server: deny_client_request
// (reconfig and timeout, reads and writes), default_ttl, and write
// throttling that delays, then rejects with ERR_BUSY.
func TestTableEnvsTakeEffect(t *testing.T) {
	c := newTestCluster(t, 2, clusterOptions{})
	a, b := c.addr(0), c.addr(1)
	c.meta.createTable("test", testApp, [][]string{{a, b}, {a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })
	s := openRawStream(t, a)
	set := func(key string, ttl int32) *pb.ClientResponse {
		return s.do(request(key, 2, &pb.SetRequest{HashKey: []byte(key), SortKey: []byte("s"), Value: []byte("v"), TtlSeconds: ttl}))
	}
	get := func(key string, timeoutMs uint32) *pb.ClientResponse {
		r := request(key, 2, &pb.GetRequest{HashKey: []byte(key), SortKey: []byte("s")})
		r.TimeoutMs = timeoutMs
		return s.do(r)
	}

	// default_ttl: a write without TTL gets it, one with its own keeps it.
	c.setEnvs(map[string]string{"default_ttl": "1000"}, 1)
	if r := set("ttl-default", 0); code(r) != pb.ErrorCode_ERR_OK {
		t.Fatalf("set: %v", r.GetError())
	}
	if r := set("ttl-own", 50); code(r) != pb.ErrorCode_ERR_OK {
		t.Fatalf("set: %v", r.GetError())
	}
	ttlOf := func(key string) int32 {
		r := request(key, 2, &pb.TTLRequest{HashKey: []byte(key), SortKey: []byte("s")})
		r.Op = &pb.ClientRequest_Ttl{Ttl: &pb.TTLRequest{HashKey: []byte(key), SortKey: []byte("s")}}
		return s.do(r).GetTtl().GetTtlSeconds()
	}
	if ttl := ttlOf("ttl-default"); ttl < 990 || ttl > 1000 {
		t.Errorf("write without TTL under default_ttl=1000 has TTL %d", ttl)
	}
	if ttl := ttlOf("ttl-own"); ttl > 50 || ttl < 40 {
		t.Errorf("write with TTL 50 has TTL %d", ttl)
	}

	// reconfig*write: writes answered ERR_INVALID_STATE, reads served.
	c.setEnvs(map[string]string{"replica.deny_client_request": "reconfig*write"}, 2)
	if r := set("denied", 0); code(r) != pb.ErrorCode_ERR_INVALID_STATE {
		t.Errorf("write under reconfig*write: %v", r.GetError())
	}
	if r := get("ttl-default", 0); code(r) != pb.ErrorCode_ERR_OK || !r.GetGet().GetFound() {
		t.Errorf("read under reconfig*write: %v", r)
	}
	// timeout*read: reads unanswered until their deadline, writes served.
	c.setEnvs(map[string]string{"replica.deny_client_request": "timeout*read"}, 3)
	start := time.Now()
	if r := get("ttl-default", 300); code(r) != pb.ErrorCode_ERR_TIMEOUT || time.Since(start) < 300*time.Millisecond {
		t.Errorf("read under timeout*read answered %v after %v", r.GetError(), time.Since(start))
	}
	if r := set("allowed", 0); code(r) != pb.ErrorCode_ERR_OK {
		t.Errorf("write under timeout*read: %v", r.GetError())
	}
	// A stale revision (a late push) does not undo a newer one.
	c.servers[0].srv.applyMetaState([]*pb.TableInfo{{Name: "test", AppId: testApp, PartitionCount: 2, ReplicaCount: 2, EnvsRevision: 1}}, nil, nil)
	if env := c.servers[0].srv.tableEnv(testApp); env.revision != 3 || !env.DenyRead {
		t.Errorf("stale revision applied: %+v", env)
	}

	// Write throttling: 2 partitions, so each takes 20/2+1 = 11 writes a
	// second before delaying 20 ms, and 40/2+1 = 21 before rejecting.
	c.setEnvs(map[string]string{"replica.write_throttling": "20*delay*20,40*reject*5"}, 4)
	if out := adminCommand(t, a, "replica.query-app-envs", fmt.Sprint(testApp)); !strings.Contains(out, `"envs_revision":4`) ||
		!strings.Contains(out, `"replica.write_throttling":"20*delay*20,40*reject*5"`) {
		t.Errorf("replica.query-app-envs: %s", out)
	}
	var ok, delayed, busy int
	perSecond := map[int64]int{}
	for range 80 {
		sent := time.Now()
		r := set("throttled", 0) // one key: one partition
		took := time.Since(sent)
		switch code(r) {
		case pb.ErrorCode_ERR_OK:
			ok++
			perSecond[sent.Unix()]++
			if took >= 20*time.Millisecond {
				delayed++
			}
		case pb.ErrorCode_ERR_BUSY:
			busy++
		default:
			t.Fatalf("throttled write: %v", r.GetError())
		}
	}
	t.Logf("80 writes: %d accepted (%d delayed), %d rejected; accepted per second %v", ok, delayed, busy, perSecond)
	if delayed == 0 || busy == 0 {
		t.Errorf("want writes delayed and rejected: %d delayed, %d rejected", delayed, busy)
	}
	for sec, n := range perSecond {
		// A write sent just before a second ends is charged to the next.
		if n > 21+1 {
			t.Errorf("second %d accepted %d writes, limit 21", sec, n)
		}
	}
	// Without the env the same writes all pass at once.
	c.setEnvs(map[string]string{}, 5)
	for range 40 {
		if r := set("throttled", 0); code(r) != pb.ErrorCode_ERR_OK {
			t.Fatalf("unthrottled write: %v", r.GetError())
		}
	}
}
