package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func b(s string) []byte { return []byte(s) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSingleRecordOperations(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 8)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)

	if _, found, err := tbl.Get(ctx, b("h"), b("s")); err != nil || found {
		t.Fatalf("Get of a missing record: found=%v err=%v", found, err)
	}
	if err := tbl.Set(ctx, b("h"), b("s"), b("v1"), 0); err != nil {
		t.Fatal(err)
	}
	v, found, err := tbl.Get(ctx, b("h"), b("s"))
	if err != nil || !found || string(v) != "v1" {
		t.Fatalf("Get = %q, %v, %v; want v1", v, found, err)
	}
	if ok, err := tbl.Exist(ctx, b("h"), b("s")); err != nil || !ok {
		t.Fatalf("Exist = %v, %v", ok, err)
	}
	if ttl, found, err := tbl.TTL(ctx, b("h"), b("s")); err != nil || !found || ttl != NoTTL {
		t.Fatalf("TTL of a record without one = %v, %v, %v; want NoTTL", ttl, found, err)
	}

	// A sub-second TTL is rounded up, never down to "no TTL".
	if err := tbl.Set(ctx, b("h"), b("short"), b("x"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ttl, found, err := tbl.TTL(ctx, b("h"), b("short")); err != nil || !found || ttl != 2*time.Second {
		t.Fatalf("TTL after Set(1.5s) = %v, %v, %v; want 2s", ttl, found, err)
	}

	if err := tbl.Del(ctx, b("h"), b("s")); err != nil {
		t.Fatal(err)
	}
	if ok, err := tbl.Exist(ctx, b("h"), b("s")); err != nil || ok {
		t.Fatalf("Exist after Del = %v, %v", ok, err)
	}
	if _, found, err := tbl.TTL(ctx, b("h"), b("s")); err != nil || found {
		t.Fatalf("TTL after Del: found=%v err=%v", found, err)
	}

	// Empty hash key: placed by the sort key, readable back.
	if err := tbl.Set(ctx, nil, b("sort-only"), b("e"), 0); err != nil {
		t.Fatal(err)
	}
	if v, found, err := tbl.Get(ctx, []byte{}, b("sort-only")); err != nil || !found || string(v) != "e" {
		t.Fatalf("Get with empty hash key = %q, %v, %v", v, found, err)
	}
}

func TestMultiRecordOperations(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 4)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)

	var kvs []KeyValue
	for i := range 10 {
		kvs = append(kvs, KeyValue{SortKey: b(fmt.Sprintf("s%02d", i)), Value: b(fmt.Sprintf("v%d", i))})
	}
	if err := tbl.MultiSet(ctx, b("h"), kvs, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, err := tbl.SortKeyCount(ctx, b("h")); err != nil || n != 10 {
		t.Fatalf("SortKeyCount = %d, %v; want 10", n, err)
	}
	if ttl, _, err := tbl.TTL(ctx, b("h"), b("s03")); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL after MultiSet(1h) = %v, %v", ttl, err)
	}

	got, more, err := tbl.MultiGet(ctx, b("h"), [][]byte{b("s07"), b("s01"), b("missing")}, nil)
	if err != nil || more {
		t.Fatal(err, more)
	}
	if len(got) != 2 || string(got[0].SortKey) != "s01" || string(got[0].Value) != "v1" || string(got[1].SortKey) != "s07" {
		t.Fatalf("MultiGet of chosen keys = %+v", got)
	}

	got, more, err = tbl.MultiGet(ctx, b("h"), nil, &MultiGetOptions{MaxCount: 4, NoValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if !more || len(got) != 4 || string(got[3].SortKey) != "s03" || got[0].Value != nil {
		t.Fatalf("MultiGet(all, MaxCount 4, NoValue) = %+v, more=%v", got, more)
	}

	if err := tbl.MultiDel(ctx, b("h"), [][]byte{b("s00"), b("s09")}); err != nil {
		t.Fatal(err)
	}
	if n, err := tbl.SortKeyCount(ctx, b("h")); err != nil || n != 8 {
		t.Fatalf("SortKeyCount after MultiDel = %d, %v; want 8", n, err)
	}
}

func TestIncr(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 2)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)

	for i, want := range []int64{5, 3, 103} {
		delta := []int64{5, -2, 100}[i]
		got, err := tbl.Incr(ctx, b("h"), b("counter"), delta, nil)
		if err != nil || got != want {
			t.Fatalf("Incr #%d = %d, %v; want %d", i, got, err, want)
		}
	}
	if _, err := tbl.Incr(ctx, b("h"), b("counter"), 1, &IncrOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if ttl, _, _ := tbl.TTL(ctx, b("h"), b("counter")); ttl != time.Minute {
		t.Fatalf("TTL after Incr with TTL = %v", ttl)
	}
	if _, err := tbl.Incr(ctx, b("h"), b("counter"), 1, &IncrOptions{ClearTTL: true}); err != nil {
		t.Fatal(err)
	}
	if ttl, _, _ := tbl.TTL(ctx, b("h"), b("counter")); ttl != NoTTL {
		t.Fatalf("TTL after Incr with ClearTTL = %v", ttl)
	}

	tbl.Set(ctx, b("h"), b("text"), b("not a number"), 0)
	_, err := tbl.Incr(ctx, b("h"), b("text"), 1, nil)
	var se *Error
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &se) || se.Code != "ERR_INVALID_DATA" {
		t.Fatalf("Incr of a non-integer = %v; want ErrInvalidArgument from ERR_INVALID_DATA", err)
	}
	if errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("a write the server refused has a known outcome: %v", err)
	}
}

// TestArgumentValidation checks that malformed requests are refused before
// anything is sent.
func TestArgumentValidation(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 2)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	long := bytes.Repeat(b("k"), MaxHashKeyLen+1)

	cases := map[string]error{
		"hash key too long": tbl.Set(ctx, long, b("s"), b("v"), 0),
		"negative ttl":      tbl.Set(ctx, b("h"), b("s"), b("v"), -time.Second),
		"huge ttl":          tbl.Set(ctx, b("h"), b("s"), b("v"), 1<<62),
		"multiset no kvs":   tbl.MultiSet(ctx, b("h"), nil, 0),
		"multiset empty hk": tbl.MultiSet(ctx, nil, []KeyValue{{SortKey: b("s")}}, 0),
		"multidel no keys":  tbl.MultiDel(ctx, b("h"), nil),
		"incr ttl and clear": func() error {
			_, err := tbl.Incr(ctx, b("h"), b("s"), 1, &IncrOptions{TTL: time.Second, ClearTTL: true})
			return err
		}(),
		"multiget negative limit": func() error {
			_, _, err := tbl.MultiGet(ctx, b("h"), nil, &MultiGetOptions{MaxCount: -1})
			return err
		}(),
		"sort key count empty hk": func() error { _, err := tbl.SortKeyCount(ctx, nil); return err }(),
		"scan negative batch":     tbl.Scan(ctx, b("h"), nil, nil, &ScanOptions{BatchSize: -1}).Err(),
		"full scan huge batch":    tbl.FullScan(ctx, &FullScanOptions{BatchSize: 1 << 40}).Err(),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	var sent int64
	for _, r := range fc.replicas {
		sent += r.requests.Load()
	}
	if sent != 0 {
		t.Fatalf("%d invalid requests reached a server", sent)
	}
	if _, err := fc.newClient(nil).Open(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Open(\"\") = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := testCtx(t)
	for name, cfg := range map[string]Config{
		"no metas":       {},
		"empty address":  {MetaServers: []string{""}},
		"negative":       {MetaServers: []string{"x:1"}, OperationTimeout: -1},
		"cap below base": {MetaServers: []string{"x:1"}, RoutingBackoff: Backoff{Base: time.Second, Cap: time.Millisecond}},
		"jitter above 1": {MetaServers: []string{"x:1"}, BusyBackoff: Backoff{Base: 1, Cap: 2, Jitter: 1.5}},
		// Servers remember a write only so long: no operation may retry
		// one longer.
		"timeout beyond the write retry window": {MetaServers: []string{"x:1"}, OperationTimeout: MaxWriteRetryWindow + time.Second},
	} {
		if _, err := New(ctx, cfg); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: New = %v, want ErrInvalidArgument", name, err)
		}
	}
	got, err := Config{MetaServers: []string{"a:1", "a:1", "b:2"}}.withDefaults()
	if err != nil || got.OperationTimeout != DefaultOperationTimeout || got.DialTimeout != DefaultDialTimeout ||
		got.RoutingBackoff != defaultRoutingBackoff || got.BusyBackoff != defaultBusyBackoff || len(got.MetaServers) != 2 {
		t.Fatalf("defaults = %+v, %v", got, err)
	}
}

func TestOpenUnknownTable(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	c := fc.newClient(nil)
	_, err := c.Open(testCtx(t), "nope")
	var se *Error
	if !errors.Is(err, ErrTableNotFound) || !errors.As(err, &se) || se.Code != "ERR_APP_NOT_EXIST" {
		t.Fatalf("Open(unknown) = %v; want ErrTableNotFound from ERR_APP_NOT_EXIST", err)
	}
	if !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("error does not name the table: %v", err)
	}
}

func TestClose(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	c := fc.newClient(nil)
	tbl := fc.open(c, "t")
	ctx := testCtx(t)

	// An operation in flight when the client closes fails with ErrClosed.
	fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{swallow: true} })
	errc := make(chan error, 1)
	go func() {
		_, _, err := tbl.Get(ctx, b("h"), b("s"))
		errc <- err
	}()
	waitFor(t, func() bool { return fc.replicas[0].requests.Load() == 1 })
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("in-flight Get after Close = %v; want ErrClosed", err)
	}
	if _, _, err := tbl.Get(ctx, b("h"), b("s")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v; want ErrClosed", err)
	}
	if _, err := c.Open(ctx, "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close = %v; want ErrClosed", err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
