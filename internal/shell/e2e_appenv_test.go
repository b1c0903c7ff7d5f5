package shell_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/shell"
)

// Write throttling on a real onebox under client load: the shell sets
// replica.write_throttling, every replica server applies it within a
// beacon, and the table's accepted write rate drops from what the cluster
// does unthrottled to near the env's limit; deleting the env lifts it.
func TestWriteThrottlingOnebox(t *testing.T) {
	work := t.TempDir()
	c := testcluster.Start(t, onebox.Options{Dir: filepath.Join(work, "onebox"), Metas: 1, Replicas: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	sh, err := shell.New(shell.Config{MetaServers: c.MetaAddrs(), Out: &out, Credentials: c.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	run := func(script string) string {
		t.Helper()
		out.Reset()
		if err := sh.RunScript(ctx, script); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out.String())
		}
		return out.String()
	}
	run("create envt -p 4 -r 3; use envt")

	cl, err := client.New(ctx, client.Config{MetaServers: c.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tbl, err := cl.Open(ctx, "envt")
	if err != nil {
		t.Fatal(err)
	}

	// load runs 8 writers for at most window or maxOps writes and returns
	// the acknowledged writes per second. Every write must succeed: a
	// throttled one is delayed, or rejected with ERR_BUSY and retried by
	// the client.
	const writers, window, maxOps = 8, 4 * time.Second, 20000
	load := func(phase string) float64 {
		t.Helper()
		var acked, issued atomic.Int64
		var failed atomic.Pointer[error]
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for n := 0; time.Since(start) < window && issued.Add(1) <= maxOps; n++ {
					opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
					err := tbl.Set(opCtx, []byte(fmt.Sprintf("%s-%d-%d", phase, w, n)), []byte("s"), []byte("value"), 0)
					cancel()
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
					acked.Add(1)
				}
			})
		}
		wg.Wait()
		if e := failed.Load(); e != nil {
			t.Fatalf("%s: write failed: %v", phase, *e)
		}
		rate := float64(acked.Load()) / time.Since(start).Seconds()
		t.Logf("%s: %d writes in %v: %.0f writes/s", phase, acked.Load(), time.Since(start).Round(time.Millisecond), rate)
		return rate
	}
	// waitEnvs waits until every replica server applies envs revision rev.
	waitEnvs := func(rev int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var reply struct {
				Details map[string]struct {
					Message map[string]struct {
						EnvsRevision int `json:"envs_revision"`
					} `json:"message"`
				} `json:"details"`
			}
			raw := run("remote_command -t replica-server replica.query-app-envs")
			if err := json.Unmarshal([]byte(raw), &reply); err != nil {
				t.Fatalf("remote_command: %v\n%s", err, raw)
			}
			applied := 0
			for _, d := range reply.Details {
				for _, tb := range d.Message {
					if tb.EnvsRevision == rev {
						applied++
					}
				}
			}
			if applied == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("envs revision %d not applied on every replica server:\n%s", rev, raw)
			}
			time.Sleep(50 * time.Millisecond) // poll interval of a condition wait
		}
	}

	base := load("unthrottled")
	// The limit: 4 partitions of 100/4+1 = 26 writes a second before a
	// 50 ms delay, 200/4+1 = 51 before ERR_BUSY: about 104 to 204 writes
	// a second for the table.
	const delayAt, rejectAt = 104, 204
	if got := run("set_app_envs replica.write_throttling 100*delay*50,200*reject*50"); !strings.Contains(got, "set app envs succeed") {
		t.Fatalf("set_app_envs printed %q", got)
	}
	waitEnvs(1)
	throttled := load("throttled")
	run("del_app_envs replica.write_throttling")
	waitEnvs(2)
	after := load("unthrottled again")

	if base < 2*rejectAt {
		t.Skipf("the cluster wrote only %.0f writes/s unthrottled, too close to the limit of %d to measure", base, rejectAt)
	}
	// Partitions count per calendar second: a window of 4 s touches 5 of
	// them, each of which may be spent in full.
	if limit := rejectAt * (window.Seconds() + 1) / window.Seconds(); throttled > limit || throttled < delayAt/2 {
		t.Errorf("throttled to %.0f writes/s, want near the limit (%d to %d)", throttled, delayAt, rejectAt)
	}
	if after < 2*rejectAt {
		t.Errorf("after del_app_envs the table writes %.0f writes/s, still throttled", after)
	}
}
