package redisproxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// jitter makes every backend call take a random 0-2 ms, so that commands
// run concurrently finish in a shuffled order.
func jitter(string, []byte) error {
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	return nil
}

// TestPipelineKeepsOrder: under concurrent execution with shuffled
// latencies, a pipeline's replies come back in order and every command
// sees the effects of the earlier commands on its keys, exactly as if run
// one by one. Both execution modes must give the same answers.
func TestPipelineKeepsOrder(t *testing.T) {
	for _, conc := range []int{1, 4, 64} {
		t.Run("concurrency="+strconv.Itoa(conc), func(t *testing.T) {
			b := newMemBackend()
			b.fail = jitter
			p := startProxy(t, b, Config{PipelineConcurrency: conc})
			rdb := p.client(t)
			ctx := context.Background()

			pipe := rdb.Pipeline()
			var (
				gets  []*redis.StringCmd
				wants []string
				incrs []*redis.IntCmd
			)
			for i := range 60 {
				key := "k" + strconv.Itoa(i%5)
				pipe.Set(ctx, key, i, 0)
				gets = append(gets, pipe.Get(ctx, key))
				wants = append(wants, strconv.Itoa(i))
				incrs = append(incrs, pipe.Incr(ctx, "counter"))
				pipe.Ping(ctx)
			}
			// Multi-key commands order against single-key ones on any of
			// their keys.
			pipe.MSet(ctx, "a", "1", "b", "2")
			mget := pipe.MGet(ctx, "b", "k4", "a")
			del := pipe.Del(ctx, "a", "k4")
			exists := pipe.Exists(ctx, "a", "b", "k4")
			afterDel := pipe.Get(ctx, "k4")
			if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
				t.Fatal(err)
			}
			for i, g := range gets {
				if g.Val() != wants[i] {
					t.Fatalf("GET #%d = %q, want %q", i, g.Val(), wants[i])
				}
				if incrs[i].Val() != int64(i+1) {
					t.Fatalf("INCR #%d = %d, want %d", i, incrs[i].Val(), i+1)
				}
			}
			if got := fmt.Sprint(mget.Val()); got != "[2 59 1]" {
				t.Errorf("MGET = %s", got)
			}
			if del.Val() != 2 || exists.Val() != 1 || afterDel.Err() != redis.Nil {
				t.Errorf("DEL = %d, EXISTS = %d, GET after DEL: %v", del.Val(), exists.Val(), afterDel.Err())
			}
		})
	}
}

// TestPipelineConcurrencyBound: commands on distinct keys of one pipeline
// overlap, never more than PipelineConcurrency at a time; concurrency 1
// runs them one by one.
func TestPipelineConcurrencyBound(t *testing.T) {
	for _, tc := range []struct{ conc, wantMax int }{{1, 1}, {4, 4}} {
		b := newMemBackend()
		b.delay = 5 * time.Millisecond
		p := startProxy(t, b, Config{PipelineConcurrency: tc.conc})
		c := p.raw(t)
		var cmds [][]string
		var want strings.Builder
		for i := range 16 {
			cmds = append(cmds, []string{"GET", "key" + strconv.Itoa(i)})
			want.WriteString("$-1\r\n")
		}
		c.send(cmds...)
		c.expect(want.String())
		if got := b.maxInFlight.Load(); got != int64(tc.wantMax) {
			t.Errorf("concurrency %d: %d commands in flight at most, want %d", tc.conc, got, tc.wantMax)
		}
	}
}

func TestKeyDependencies(t *testing.T) {
	cmd := func(args ...string) request {
		c := request{}
		for _, a := range args {
			c.Args = append(c.Args, []byte(a))
		}
		return c
	}
	batch := []request{
		cmd("SET", "a", "1"),            // 0
		cmd("GET", "b"),                 // 1
		cmd("PING"),                     // 2
		cmd("MGET", "a", "b", "a"),      // 3: after 0 and 1
		cmd("GET", "a"),                 // 4: after 3
		cmd("MSET", "c", "1", "b", "2"), // 5: after 3 (b); the values are not keys
		cmd("GET", "1"),                 // 6: "1" was a value, not a key
		cmd("GET"),                      // 7: wrong arity, refused without touching a key
		cmd("NOSUCH", "a"),              // 8: unknown
		cmd("DEL", "c", "a"),            // 9: after 5 (c) and 4 (a)
	}
	want := [][]int{nil, nil, nil, {0, 1}, {3}, {3}, nil, nil, nil, {5, 4}}
	if got := keyDependencies(batch); !reflect.DeepEqual(got, want) {
		t.Errorf("keyDependencies = %v, want %v", got, want)
	}
}

// TestShutdownStopsPipelineAtFirstUnstartedCommand: once shutdown begins,
// no further command of a batch starts; the replies of the commands that
// ran up to the first that did not are delivered, and the connection is to
// be closed.
func TestShutdownStopsPipelineAtFirstUnstartedCommand(t *testing.T) {
	for _, conc := range []int{1, 8} {
		t.Run("concurrency="+strconv.Itoa(conc), func(t *testing.T) {
			b := newMemBackend()
			srv, err := New(b, Config{PipelineConcurrency: conc})
			if err != nil {
				t.Fatal(err)
			}
			b.fail = func(op string, key []byte) error {
				if string(key) == "a" {
					srv.beginShutdown()
				}
				return nil
			}
			// Every later command names key a, so none can start before
			// the first one finished and began the shutdown.
			batch := []request{
				{Args: [][]byte{[]byte("SET"), []byte("a"), []byte("1")}},
				{Args: [][]byte{[]byte("SET"), []byte("a"), []byte("2")}},
				{Args: [][]byte{[]byte("MSET"), []byte("a"), []byte("3"), []byte("b"), []byte("3")}},
			}
			out, closeAfter := srv.runPipeline(context.Background(), &connState{authed: true}, batch, nil)
			if string(out) != "+OK\r\n" || !closeAfter {
				t.Fatalf("runPipeline = %q, close %v; want the first reply only and close", out, closeAfter)
			}
			if v, _ := b.value("a"); v != "1" {
				t.Errorf("a = %q: a command started after shutdown began", v)
			}
		})
	}
}

// BenchmarkPipeline compares running a pipeline of 16 GETs one command at
// a time with running its commands concurrently, over a store with a
// 100 µs round trip.
func BenchmarkPipeline(b *testing.B) {
	for _, conc := range []int{1, 16} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			mem := newMemBackend()
			mem.delay = 100 * time.Microsecond
			p := startProxy(b, mem, Config{PipelineConcurrency: conc})
			rdb := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2})
			defer rdb.Close()
			ctx := context.Background()
			for b.Loop() {
				pipe := rdb.Pipeline()
				for i := range 16 {
					pipe.Get(ctx, "key"+strconv.Itoa(i))
				}
				if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*16)/b.Elapsed().Seconds(), "cmds/s")
		})
	}
}
