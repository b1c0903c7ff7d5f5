package storage

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// expireOf returns the stored expire_ts of a live record.
func expireOf(t *testing.T, s *Store, hash, sort string) uint32 {
	t.Helper()
	recs, _, err := s.FullScan(nil, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if string(r.HashKey) == hash && string(r.SortKey) == sort {
			return r.ExpireTS
		}
	}
	t.Fatalf("no live record %s/%s", hash, sort)
	return 0
}

func TestIncr(t *testing.T) {
	now := PegasusSeconds(t0)
	for _, tc := range []struct {
		name string
		// setup is applied at t0 before the incr; the incr runs at t0+10.
		setup      []WriteOp
		incr       Incr
		wantErr    error
		wantNew    int64
		wantValue  string
		wantExpire uint32
	}{
		{name: "absent counts as 0", incr: Incr{Delta: 5}, wantNew: 5, wantValue: "5"},
		{name: "absent with ttl", incr: Incr{Delta: -2, TTLSeconds: 60}, wantNew: -2, wantValue: "-2", wantExpire: now + 10 + 60},
		{name: "absent, negative ttl", incr: Incr{Delta: 1, TTLSeconds: -1}, wantNew: 1, wantValue: "1"},
		{name: "adds", setup: []WriteOp{Put{Value: []byte("10")}}, incr: Incr{Delta: 5}, wantNew: 15, wantValue: "15"},
		{name: "empty counts as 0", setup: []WriteOp{Put{}}, incr: Incr{Delta: 3}, wantNew: 3, wantValue: "3"},
		{name: "parses like strtoll", setup: []WriteOp{Put{Value: []byte(" 0x10")}}, incr: Incr{Delta: 1}, wantNew: 17, wantValue: "17"},
		{name: "zero delta rewrites canonically", setup: []WriteOp{Put{Value: []byte("+007")}}, incr: Incr{}, wantNew: 7, wantValue: "7"},
		{
			name: "ttl 0 keeps expiry", setup: []WriteOp{Put{Value: []byte("1"), TTLSeconds: 100}},
			incr: Incr{Delta: 1}, wantNew: 2, wantValue: "2", wantExpire: now + 100,
		},
		{
			name: "negative ttl clears expiry", setup: []WriteOp{Put{Value: []byte("1"), TTLSeconds: 100}},
			incr: Incr{Delta: 1, TTLSeconds: -1}, wantNew: 2, wantValue: "2",
		},
		{
			name: "positive ttl resets expiry", setup: []WriteOp{Put{Value: []byte("1"), TTLSeconds: 100}},
			incr: Incr{Delta: 1, TTLSeconds: 5}, wantNew: 2, wantValue: "2", wantExpire: now + 10 + 5,
		},
		{
			name: "expired counts as absent", setup: []WriteOp{Put{Value: []byte("41"), TTLSeconds: 10}},
			incr: Incr{Delta: 1}, wantNew: 1, wantValue: "1",
		},
		{
			name: "not an integer", setup: []WriteOp{Put{Value: []byte("12a")}},
			incr: Incr{Delta: 1}, wantErr: ErrIncrNotInteger, wantValue: "12a",
		},
		{
			name: "overflow reports the current value", setup: []WriteOp{Put{Value: []byte("9223372036854775800")}},
			incr: Incr{Delta: 8}, wantErr: ErrIncrOverflow, wantNew: 9223372036854775800, wantValue: "9223372036854775800",
		},
		{
			name: "underflow", setup: []WriteOp{Put{Value: []byte("-2")}},
			incr: Incr{Delta: math.MinInt64}, wantErr: ErrIncrOverflow, wantNew: -2, wantValue: "-2",
		},
		{
			name: "reaches the minimum", setup: []WriteOp{Put{Value: []byte("-1")}},
			incr: Incr{Delta: math.MinInt64 + 1}, wantNew: math.MinInt64, wantValue: "-9223372036854775808",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore(t, newTestClock(t0+10))
			key := func(op WriteOp) WriteOp {
				p := op.(Put)
				p.HashKey, p.SortKey = []byte("h"), []byte("n")
				return p
			}
			for _, op := range tc.setup {
				mustApply(t, s, s.LastAppliedDecree()+1, t0, key(op))
			}
			tc.incr.HashKey, tc.incr.SortKey = []byte("h"), []byte("n")
			res := mustApply(t, s, s.LastAppliedDecree()+1, t0+10, tc.incr)[0]
			if !errors.Is(res.Err, tc.wantErr) || (tc.wantErr == nil && res.Err != nil) {
				t.Fatalf("err %v, want %v", res.Err, tc.wantErr)
			}
			if res.NewValue != tc.wantNew {
				t.Errorf("new value %d, want %d", res.NewValue, tc.wantNew)
			}
			if got := lookup(t, s, "h", "n"); got != tc.wantValue {
				t.Errorf("stored %q, want %q", got, tc.wantValue)
			}
			if tc.wantErr == nil {
				if got := expireOf(t, s, "h", "n"); got != tc.wantExpire {
					t.Errorf("expire_ts %d, want %d", got, tc.wantExpire)
				}
			}
		})
	}
}

func TestCheckAndSet(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing *string // value under h/c before the op; nil: absent
		op       CheckAndSet
		wantErr  error
		passed   bool
		wantC    string // h/c afterwards
		wantS    string // h/s afterwards
	}{
		{
			name: "not exist passes on absent", op: CheckAndSet{CheckType: CheckValueNotExist, SetSortKey: []byte("c"), SetValue: []byte("new")},
			passed: true, wantC: "new", wantS: "<absent>",
		},
		{
			name: "not exist fails on present", existing: ptr("old"),
			op:     CheckAndSet{CheckType: CheckValueNotExist, SetSortKey: []byte("c"), SetValue: []byte("new")},
			passed: false, wantC: "old", wantS: "<absent>",
		},
		{
			name: "sets a different sort key", existing: ptr("old"),
			op:     CheckAndSet{CheckType: CheckBytesEqual, CheckOperand: []byte("old"), SetSortKey: []byte("s"), SetValue: []byte("new")},
			passed: true, wantC: "old", wantS: "new",
		},
		{
			name: "match prefix fails", existing: ptr("hello"),
			op:     CheckAndSet{CheckType: CheckMatchPrefix, CheckOperand: []byte("lo"), SetSortKey: []byte("s"), SetValue: []byte("new")},
			passed: false, wantC: "hello", wantS: "<absent>",
		},
		{
			name: "int check on non-integer writes nothing", existing: ptr("abc"),
			op:      CheckAndSet{CheckType: CheckIntLess, CheckOperand: []byte("5"), SetSortKey: []byte("s"), SetValue: []byte("new")},
			wantErr: ErrCheckNotInteger, wantC: "abc", wantS: "<absent>",
		},
		{
			name: "int check on non-integer operand", existing: ptr("3"),
			op:      CheckAndSet{CheckType: CheckIntLess, CheckOperand: []byte("five"), SetSortKey: []byte("s"), SetValue: []byte("new")},
			wantErr: ErrCheckNotInteger, wantC: "3", wantS: "<absent>",
		},
		{
			name: "int check passes", existing: ptr("3"),
			op:     CheckAndSet{CheckType: CheckIntLess, CheckOperand: []byte("5"), SetSortKey: []byte("c"), SetValue: []byte("4")},
			passed: true, wantC: "4", wantS: "<absent>",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore(t, nil)
			if tc.existing != nil {
				mustApply(t, s, 1, t0, put("h", "c", *tc.existing))
			}
			for _, returnCheck := range []bool{false, true} {
				op := tc.op
				op.HashKey, op.CheckSortKey, op.ReturnCheckValue = []byte("h"), []byte("c"), returnCheck
				if returnCheck {
					// Run the op against the same state again.
					s = newMemStore(t, nil)
					if tc.existing != nil {
						mustApply(t, s, 1, t0, put("h", "c", *tc.existing))
					}
				}
				res := mustApply(t, s, 2, t0, op)[0]
				if !errors.Is(res.Err, tc.wantErr) || (tc.wantErr == nil && res.Err != nil) {
					t.Fatalf("err %v, want %v", res.Err, tc.wantErr)
				}
				if res.CheckPassed != tc.passed {
					t.Errorf("passed %v, want %v", res.CheckPassed, tc.passed)
				}
				wantExist := returnCheck && tc.existing != nil
				if res.CheckValueExist != wantExist {
					t.Errorf("ReturnCheckValue=%v: check value exist %v", returnCheck, res.CheckValueExist)
				}
				if wantExist && string(res.CheckValue) != *tc.existing {
					t.Errorf("check value %q, want %q", res.CheckValue, *tc.existing)
				}
				if !wantExist && res.CheckValue != nil {
					t.Errorf("check value %q returned unasked or for an absent record", res.CheckValue)
				}
				if got := lookup(t, s, "h", "c"); got != tc.wantC {
					t.Errorf("h/c = %q, want %q", got, tc.wantC)
				}
				if got := lookup(t, s, "h", "s"); got != tc.wantS {
					t.Errorf("h/s = %q, want %q", got, tc.wantS)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestCheckAndSetTTLAndExpiredCheck(t *testing.T) {
	clock := newTestClock(t0 + 20)
	s := newMemStore(t, clock)
	mustApply(t, s, 1, t0, Put{HashKey: []byte("h"), SortKey: []byte("c"), Value: []byte("v"), TTLSeconds: 10})
	// At t0+20 the record expired: "not exist" holds.
	res := mustApply(t, s, 2, t0+20, CheckAndSet{
		HashKey: []byte("h"), CheckSortKey: []byte("c"), CheckType: CheckValueNotExist,
		SetSortKey: []byte("c"), SetValue: []byte("fresh"), SetTTLSeconds: 30, ReturnCheckValue: true,
	})[0]
	if !res.CheckPassed || res.CheckValueExist {
		t.Fatalf("check on an expired record: %+v", res)
	}
	if ttl, err := s.TTL([]byte("h"), []byte("c")); err != nil || ttl != 30 {
		t.Fatalf("TTL after set = %d, %v; want 30", ttl, err)
	}
}

// Ops of one mutation see the writes of the ops before them.
func TestOpsSeeEarlierOpsOfTheirMutation(t *testing.T) {
	s := newMemStore(t, nil)
	res := mustApply(t, s, 1, t0,
		put("h", "n", "5"),
		Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: 1},
		CheckAndSet{HashKey: []byte("h"), CheckSortKey: []byte("n"), CheckType: CheckIntEqual, CheckOperand: []byte("6"),
			SetSortKey: []byte("seen"), SetValue: []byte("yes")},
		Remove{HashKey: []byte("h"), SortKey: []byte("n")},
		Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: 1},
	)
	if res[1].NewValue != 6 || !res[2].CheckPassed || res[4].NewValue != 1 {
		t.Fatalf("results %+v", res)
	}
	if lookup(t, s, "h", "seen") != "yes" || lookup(t, s, "h", "n") != "1" {
		t.Fatalf("h/seen %q, h/n %q", lookup(t, s, "h", "seen"), lookup(t, s, "h", "n"))
	}
}

func TestMultiPutAndMultiRemove(t *testing.T) {
	s := newMemStore(t, newTestClock(t0))
	mustApply(t, s, 1, t0, MultiPut{HashKey: []byte("h"), TTLSeconds: 50, KVs: []KV{
		{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("2")}, {[]byte("c"), []byte("3")},
	}})
	for _, sk := range []string{"a", "b", "c"} {
		if ttl, err := s.TTL([]byte("h"), []byte(sk)); err != nil || ttl != 50 {
			t.Fatalf("TTL(h/%s) = %d, %v", sk, ttl, err)
		}
	}
	mustApply(t, s, 2, t0, MultiRemove{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a"), []byte("c"), []byte("zz")}})
	if lookup(t, s, "h", "a") != "<absent>" || lookup(t, s, "h", "b") != "2" || lookup(t, s, "h", "c") != "<absent>" {
		t.Fatal("multi_remove removed the wrong records")
	}
}

func TestTTLExpiry(t *testing.T) {
	clock := newTestClock(t0)
	s := newMemStore(t, clock)
	mustApply(t, s, 1, t0,
		Put{HashKey: []byte("h"), SortKey: []byte("ttl"), Value: []byte("v"), TTLSeconds: 10},
		put("h", "forever", "v"),
	)
	h, sk := []byte("h"), []byte("ttl")
	for _, tc := range []struct {
		at      int64
		visible bool
		ttl     int64
	}{
		{t0, true, 10},
		{t0 + 9, true, 1},
		{t0 + 10, false, 0}, // a record expiring at t is gone at t
		{t0 + 1000, false, 0},
	} {
		clock.set(tc.at)
		v, err := s.Get(h, sk)
		if tc.visible != (err == nil) || (tc.visible && string(v) != "v") {
			t.Errorf("at t0+%d: Get = %q, %v; visible %v", tc.at-t0, v, err, tc.visible)
		}
		if !tc.visible && !errors.Is(err, ErrNotFound) {
			t.Errorf("at t0+%d: Get error %v, want ErrNotFound", tc.at-t0, err)
		}
		if ok, err := s.Exist(h, sk); ok != tc.visible || err != nil {
			t.Errorf("at t0+%d: Exist = %v, %v", tc.at-t0, ok, err)
		}
		ttl, err := s.TTL(h, sk)
		if tc.visible && (err != nil || ttl != tc.ttl) {
			t.Errorf("at t0+%d: TTL = %d, %v; want %d", tc.at-t0, ttl, err, tc.ttl)
		}
		if !tc.visible && !errors.Is(err, ErrNotFound) {
			t.Errorf("at t0+%d: TTL error %v, want ErrNotFound", tc.at-t0, err)
		}
		if ttl, err := s.TTL(h, []byte("forever")); ttl != -1 || err != nil {
			t.Errorf("TTL of a record without expiry = %d, %v; want -1", ttl, err)
		}
	}
}

// The apply clock never runs backwards: a primary whose clock lags behind its
// predecessor's cannot stretch TTLs or revive expired records, and reads on a
// node with a lagging clock judge expiry by the apply clock.
func TestApplyClockIsMonotonic(t *testing.T) {
	clock := newTestClock(t0 - 1000) // this node's wall clock lags
	s := newMemStore(t, clock)
	mustApply(t, s, 1, t0, Put{HashKey: []byte("h"), SortKey: []byte("a"), Value: []byte("1"), TTLSeconds: 5})
	// The next primary's clock is 100 s behind.
	mustApply(t, s, 2, t0-100, Put{HashKey: []byte("h"), SortKey: []byte("b"), Value: []byte("2"), TTLSeconds: 10})
	if got, want := expireOf(t, s, "h", "b"), PegasusSeconds(t0)+10; got != want {
		t.Fatalf("expire_ts under a lagging primary = %d, want %d (apply clock + ttl)", got, want)
	}
	if s.ApplyClock() != PegasusSeconds(t0) {
		t.Fatalf("apply clock %d went backwards", s.ApplyClock())
	}
	// Reads at a wall clock far behind still see TTLs from the apply clock.
	if ttl, err := s.TTL([]byte("h"), []byte("a")); ttl != 5 || err != nil {
		t.Fatalf("TTL at a lagging wall clock = %d, %v; want 5", ttl, err)
	}
	// Once the apply clock passes a record's expiry, it is gone everywhere.
	mustApply(t, s, 3, t0+5)
	if _, err := s.Get([]byte("h"), []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record expired by the apply clock is visible: %v", err)
	}
	res := mustApply(t, s, 4, t0-100, Incr{HashKey: []byte("h"), SortKey: []byte("a"), Delta: 1})
	if res[0].NewValue != 1 {
		t.Fatalf("incr under a lagging primary saw the expired value: %d", res[0].NewValue)
	}
}

func TestApplyPersistsApplyClock(t *testing.T) {
	s := newMemStore(t, nil)
	mustApply(t, s, 1, t0+77)
	fs := s.opts.FS
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openStore(t, fs, "/store", nil, Options{})
	if reopened.ApplyClock() != PegasusSeconds(t0+77) || reopened.LastAppliedDecree() != 1 {
		t.Fatalf("after reopen: clock %d decree %d", reopened.ApplyClock(), reopened.LastAppliedDecree())
	}
}

func TestPegasusValueSchema(t *testing.T) {
	s := newMemStore(t, nil)
	mustApply(t, s, 1, t0, Put{HashKey: []byte("hk"), SortKey: []byte("sk"), Value: []byte("val"), TTLSeconds: 3})
	raw, closer, err := s.db.Get([]byte("\x00\x02hksk"))
	if err != nil {
		t.Fatalf("record not stored under Pegasus' key: %v", err)
	}
	defer closer.Close()
	expire := uint32(t0 - PegasusEpochUnix + 3)
	want := append([]byte{byte(expire >> 24), byte(expire >> 16), byte(expire >> 8), byte(expire)}, "val"...)
	if !bytes.Equal(raw, want) {
		t.Fatalf("stored value %x, want %x", raw, want)
	}
	if PegasusSeconds(PegasusEpochUnix-5) != 0 || PegasusSeconds(math.MaxInt64) != math.MaxUint32 {
		t.Fatal("PegasusSeconds does not clamp")
	}
	if expireAt(math.MaxUint32-1, 10) != math.MaxUint32 {
		t.Fatal("expireAt wraps")
	}
}
