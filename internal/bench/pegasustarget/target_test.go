package pegasustarget

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench"
)

// fakeTable records what the target asked for and answers with err.
type fakeTable struct {
	hashKey, sortKey, value []byte
	ttl                     time.Duration
	deadline                time.Time
	err                     error
}

func (f *fakeTable) note(ctx context.Context, hashKey, sortKey []byte) {
	f.hashKey, f.sortKey = bytes.Clone(hashKey), sortKey
	f.deadline, _ = ctx.Deadline()
}

func (f *fakeTable) Get(ctx context.Context, hashKey, sortKey []byte) ([]byte, bool, error) {
	f.note(ctx, hashKey, sortKey)
	if f.err != nil {
		return nil, false, f.err
	}
	return f.value, f.value != nil, nil
}

func (f *fakeTable) Set(ctx context.Context, hashKey, sortKey, value []byte, ttl time.Duration) error {
	f.note(ctx, hashKey, sortKey)
	f.value, f.ttl = bytes.Clone(value), ttl
	return f.err
}

func (f *fakeTable) Del(ctx context.Context, hashKey, sortKey []byte) error {
	f.note(ctx, hashKey, sortKey)
	return f.err
}

func TestKeysMapToHashKeys(t *testing.T) {
	ft := &fakeTable{}
	tg := &Target{table: ft}
	ctx := context.Background()
	if err := tg.Set(ctx, []byte("bench-042"), []byte("value")); err != nil {
		t.Fatal(err)
	}
	if string(ft.hashKey) != "bench-042" || len(ft.sortKey) != 0 || string(ft.value) != "value" || ft.ttl != 0 {
		t.Errorf("set went to hash key %q sort key %q with value %q ttl %v", ft.hashKey, ft.sortKey, ft.value, ft.ttl)
	}
	v, found, err := tg.Get(ctx, []byte("bench-042"))
	if err != nil || !found || string(v) != "value" || string(ft.hashKey) != "bench-042" || len(ft.sortKey) != 0 {
		t.Errorf("get: %q %v %v at (%q, %q)", v, found, err, ft.hashKey, ft.sortKey)
	}
	if err := tg.Del(ctx, []byte("bench-007")); err != nil || string(ft.hashKey) != "bench-007" {
		t.Errorf("del: %v at %q", err, ft.hashKey)
	}
}

func TestOpTimeout(t *testing.T) {
	ft := &fakeTable{}
	ctx := context.Background()
	(&Target{table: ft}).Get(ctx, []byte("k"))
	if !ft.deadline.IsZero() {
		t.Errorf("no op timeout, yet the call had deadline %v", ft.deadline)
	}
	start := time.Now()
	(&Target{table: ft, opTimeout: time.Minute}).Set(ctx, []byte("k"), []byte("v"))
	if d := ft.deadline.Sub(start); d < 59*time.Second || d > 61*time.Second {
		t.Errorf("op timeout 1m gave a deadline %v away", d)
	}
	// A caller's shorter deadline wins.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	want, _ := short.Deadline()
	(&Target{table: ft, opTimeout: time.Minute}).Del(short, []byte("k"))
	if !ft.deadline.Equal(want) {
		t.Errorf("deadline %v, want the caller's %v", ft.deadline, want)
	}
}

func TestWriteErrorsKeepTheClientsVerdict(t *testing.T) {
	unknown := fmt.Errorf("client: set on table %q: %w (write outcome unknown): %w", "t", client.ErrTimeout, client.ErrUnknownOutcome)
	for _, tc := range []struct {
		name     string
		err      error
		rejected bool
	}{
		{"unknown outcome", unknown, false},
		{"refused before replication", fmt.Errorf("client: set: %w", client.ErrUnavailable), true},
		{"timed out without reaching a server", fmt.Errorf("client: set: %w: %w", client.ErrTimeout, context.DeadlineExceeded), true},
		{"invalid argument", client.ErrInvalidArgument, true},
		{"table dropped", client.ErrTableNotFound, true},
	} {
		ft := &fakeTable{err: tc.err}
		tg := &Target{table: ft}
		for op, err := range map[string]error{
			"set": tg.Set(context.Background(), []byte("k"), []byte("v")),
			"del": tg.Del(context.Background(), []byte("k")),
		} {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %s error %v does not wrap the client's", tc.name, op, err)
			}
			if got := errors.Is(err, bench.ErrRejected); got != tc.rejected {
				t.Errorf("%s: %s rejected = %v, want %v", tc.name, op, got, tc.rejected)
			}
		}
		// A read has no outcome to be unsure of: its error is passed on.
		if _, _, err := tg.Get(context.Background(), []byte("k")); err != tc.err {
			t.Errorf("%s: get error %v, want the client's unchanged", tc.name, err)
		}
	}
	if err := writeError(nil); err != nil {
		t.Errorf("writeError(nil) = %v", err)
	}
}

// TestRunnerClassifiesThroughTarget runs the bench runner over a table that
// fails every write definitively: nothing may count as unknown, and the
// checkers must pass, since nothing was written.
func TestRunnerClassifiesThroughTarget(t *testing.T) {
	ft := &fakeTable{err: fmt.Errorf("client: %w", client.ErrBusy)}
	r, err := bench.NewRunner(&Target{table: ft}, bench.Config{
		Workload: bench.Workload{KeyCount: 10, ValueSize: 16},
		Workers:  1,
		MaxOps:   50,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.FailedOps != 50 || rep.UnknownOps != 0 || rep.Linearizability != bench.VerdictOK || rep.LostWrites != 0 {
		t.Errorf("failed %d unknown %d linearizability %s lost %d; want 50 failed, 0 unknown, ok, 0",
			rep.FailedOps, rep.UnknownOps, rep.Linearizability, rep.LostWrites)
	}
}
