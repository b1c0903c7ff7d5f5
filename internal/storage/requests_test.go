package storage

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func applyRequest(t testing.TB, s *Store, decree int64, now uint32, id RequestID, ops ...WriteOp) []OpResult {
	t.Helper()
	res, err := s.Apply(decree, now, id, ops)
	if err != nil {
		t.Fatalf("Apply(%d): %v", decree, err)
	}
	return res
}

func mustRequest(t testing.TB, s *Store, id RequestID) AppliedRequest {
	t.Helper()
	a, ok, err := s.AppliedRequest(id)
	if err != nil || !ok {
		t.Fatalf("AppliedRequest(%v) = %v, %v", id, ok, err)
	}
	return a
}

// A request's record holds exactly what Apply returned for its ops, so a
// retry can be answered with it: incr values, check_and_set verdicts and
// check values, and op failures with their kind and message.
func TestRequestRecordHoldsTheResults(t *testing.T) {
	s := newMemStore(t, nil)
	mustApply(t, s, 1, t0, put("h", "text", "not a number"), put("h", "old", "previous"))

	cases := []struct {
		id  RequestID
		ops []WriteOp
	}{
		{RequestID{1, 1}, []WriteOp{put("h", "a", "v")}},
		{RequestID{1, 2}, []WriteOp{Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: 7}}},
		{RequestID{1, 3}, []WriteOp{Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: -7}}}, // new value 0
		{RequestID{1, 4}, []WriteOp{Incr{HashKey: []byte("h"), SortKey: []byte("text"), Delta: 1}}},
		{RequestID{2, 1}, []WriteOp{CheckAndSet{HashKey: []byte("h"), CheckSortKey: []byte("old"),
			CheckType: CheckValueExist, SetSortKey: []byte("new"), SetValue: []byte("x"), ReturnCheckValue: true}}},
		{RequestID{2, 2}, []WriteOp{CheckAndSet{HashKey: []byte("h"), CheckSortKey: []byte("absent"),
			CheckType: CheckValueExist, SetSortKey: []byte("new"), SetValue: []byte("y"), ReturnCheckValue: true}}},
		{RequestID{2, 3}, []WriteOp{CheckAndSet{HashKey: []byte("h"), CheckSortKey: []byte("text"),
			CheckType: CheckIntLess, CheckOperand: []byte("3"), SetSortKey: []byte("z"), SetValue: []byte("z")}}},
		{RequestID{3, 1}, []WriteOp{put("h", "m1", "1"), Remove{HashKey: []byte("h"), SortKey: []byte("a")},
			MultiPut{HashKey: []byte("h"), KVs: []KV{{SortKey: []byte("m2"), Value: []byte("2")}}}}},
	}
	for i, c := range cases {
		decree := int64(i + 2)
		got := applyRequest(t, s, decree, t0+uint32(i), c.id, c.ops...)
		rec := mustRequest(t, s, c.id)
		if rec.Decree != decree || rec.ApplyTime != PegasusSeconds(t0+int64(i)) {
			t.Errorf("%v: record at decree %d time %d, want %d %d", c.id, rec.Decree, rec.ApplyTime, decree, PegasusSeconds(t0+int64(i)))
		}
		if len(rec.Results) != len(got) {
			t.Fatalf("%v: %d results recorded, %d returned", c.id, len(rec.Results), len(got))
		}
		for j := range got {
			want, have := got[j], rec.Results[j]
			if (want.Err == nil) != (have.Err == nil) {
				t.Fatalf("%v op %d: error %v recorded as %v", c.id, j, want.Err, have.Err)
			}
			if want.Err != nil {
				if have.Err.Error() != want.Err.Error() || !errors.Is(have.Err, errors.Unwrap(want.Err)) {
					t.Errorf("%v op %d: error %q recorded as %q (kind lost?)", c.id, j, want.Err, have.Err)
				}
				want.Err, have.Err = nil, nil
			}
			if len(want.CheckValue) == 0 && len(have.CheckValue) == 0 {
				want.CheckValue, have.CheckValue = nil, nil
			}
			if !reflect.DeepEqual(want, have) {
				t.Errorf("%v op %d: returned %+v, recorded %+v", c.id, j, want, have)
			}
		}
	}
	if r := mustRequest(t, s, RequestID{2, 1}).Results[0]; !r.CheckPassed || !r.CheckValueReturned || string(r.CheckValue) != "previous" {
		t.Errorf("check_and_set record %+v", r)
	}
	if r := mustRequest(t, s, RequestID{1, 4}).Results[0]; !errors.Is(r.Err, ErrIncrNotInteger) {
		t.Errorf("incr failure recorded as %v", r.Err)
	}

	// An unidentified mutation records nothing; an unknown id is absent.
	applyRequest(t, s, 100, t0, RequestID{}, put("h", "b", "v"))
	for _, id := range []RequestID{{}, {9, 9}} {
		if _, ok, err := s.AppliedRequest(id); ok || err != nil {
			t.Errorf("AppliedRequest(%v) = %v, %v; want absent", id, ok, err)
		}
	}
	// Nor do records show among the data.
	if kvs, _, err := s.MultiGet([]byte("h"), nil, ReadOptions{}); err != nil || len(kvs) != 7 {
		t.Errorf("MultiGet = %d records, %v; want the 7 records written", len(kvs), err)
	}
}

// A crash keeps a request's record exactly when it keeps its effects and
// decree: they are one batch.
func TestRequestRecordSurvivesWithItsDecree(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openStore(t, fs, "/store", nil, Options{MemTableSize: 256 << 10})
	const n = 1500
	value := make([]byte, 1024)
	for d := int64(1); d <= n; d++ {
		applyRequest(t, s, d, t0, RequestID{ClientID: 5, Seq: uint64(d)},
			Put{HashKey: []byte("h"), SortKey: fmt.Appendf(nil, "%06d", d), Value: value},
			Incr{HashKey: []byte("h"), SortKey: []byte("count"), Delta: 1})
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.db.Metrics().Flush.Count == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no background flush within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	crashed := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}), "/store", nil, Options{})
	last := crashed.LastAppliedDecree()
	if last == 0 || last >= n {
		t.Fatalf("after crash: last applied %d, want within (0, %d)", last, n)
	}
	for _, d := range []int64{1, last / 2, last} {
		if rec := mustRequest(t, crashed, RequestID{ClientID: 5, Seq: uint64(d)}); rec.Decree != d || rec.Results[1].NewValue != d {
			t.Fatalf("request of decree %d recorded as %+v", d, rec)
		}
	}
	if _, ok, _ := crashed.AppliedRequest(RequestID{ClientID: 5, Seq: uint64(last + 1)}); ok {
		t.Fatalf("the request of decree %d survived the crash without its decree %d", last+1, last)
	}
}

// A checkpoint carries the request records with the data: a learner that
// installs it knows every request the checkpoint's decree covers.
func TestCheckpointCarriesRequestRecords(t *testing.T) {
	fs := vfs.NewMem()
	source := openStore(t, fs, "/data/source", nil, Options{})
	for d := int64(1); d <= 10; d++ {
		applyRequest(t, source, d, t0, RequestID{ClientID: 1, Seq: uint64(d)}, Incr{HashKey: []byte("h"), Delta: 2})
	}
	if decree, err := source.Checkpoint("/data/learner.checkpoint"); err != nil || decree != 10 {
		t.Fatalf("Checkpoint = %d, %v", decree, err)
	}
	applyRequest(t, source, 11, t0, RequestID{ClientID: 1, Seq: 11}, Incr{HashKey: []byte("h"), Delta: 2})

	learner, err := OpenFromCheckpoint("/data/learner", "/data/learner.checkpoint", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = learner.Close() })
	for d := uint64(1); d <= 10; d++ {
		if rec := mustRequest(t, learner, RequestID{ClientID: 1, Seq: d}); rec.Results[0].NewValue != int64(2*d) {
			t.Fatalf("learner: request %d recorded as %+v", d, rec)
		}
	}
	if _, ok, _ := learner.AppliedRequest(RequestID{ClientID: 1, Seq: 11}); ok {
		t.Fatal("the learner knows a request applied after the checkpoint")
	}
}

// DropExpiredRequests collects the records the apply clock passed by more
// than the retention, a bucket at a time: a record is kept at least the
// retention and at most a bucket longer, and found by lookups within the
// retention, whatever bucket it is in.
func TestDropExpiredRequests(t *testing.T) {
	const retention, bucket = 100, 10
	s := openStore(t, vfs.NewMem(), "/store", nil, Options{RequestBucketSeconds: bucket, RequestRetentionSeconds: retention})
	id := func(d int64) RequestID { return RequestID{ClientID: uint64(d % 7), Seq: uint64(d)} }
	// 50 requests at t0, 50 at t0+60, in different buckets.
	for d := int64(1); d <= 100; d++ {
		at := uint32(t0)
		if d > 50 {
			at += 60
		}
		applyRequest(t, s, d, at, id(d), put("h", fmt.Sprint(d), "v"))
	}
	known := func(from, to int64) (n int) {
		for d := from; d <= to; d++ {
			if _, ok, err := s.AppliedRequest(id(d)); err != nil {
				t.Fatal(err)
			} else if ok {
				n++
			}
		}
		return n
	}
	// stored counts the records on disk, found or not.
	stored := func() (n int) {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: requestKeyPrefix, UpperBound: requestKeysEnd})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		return n
	}
	if known(1, 100) != 100 {
		t.Fatal("a lookup missed a record in an older bucket")
	}
	decree := int64(100)
	advance := func(unix uint32) bool {
		t.Helper()
		decree++
		applyRequest(t, s, decree, unix, RequestID{}, put("h", "tick", fmt.Sprint(decree)))
		dropped, err := s.DropExpiredRequests()
		if err != nil {
			t.Fatal(err)
		}
		return dropped
	}
	// Up to t0+100 every record is within the retention.
	if advance(t0+retention) || known(1, 100) != 100 {
		t.Fatalf("within the retention: %d of 100 records left", known(1, 100))
	}
	// A bucket later the first 50 are gone, the others kept.
	if !advance(t0+retention+bucket) || stored() != 50 || known(51, 100) != 50 {
		t.Fatalf("a bucket past the first 50's retention: %d stored, %d of the last 50 found", stored(), known(51, 100))
	}
	// Nothing more to collect: no second range deletion.
	if advance(t0 + retention + bucket) {
		t.Fatal("a second range deletion with no newly expired bucket")
	}
	if !advance(t0+60+retention+bucket) || stored() != 0 {
		t.Fatalf("past everyone's retention: %d left", stored())
	}
	// New records are found again, in the newest bucket.
	applyRequest(t, s, decree+1, t0+1000, id(1), put("h", "again", "v"))
	if rec := mustRequest(t, s, id(1)); rec.Decree != decree+1 {
		t.Fatalf("record of a re-executed request: %+v", rec)
	}
}

func TestRequestRecordDecodeRefusesDamage(t *testing.T) {
	good := encodeRequestRecord(nil, 7, 100, []OpResult{
		{Kind: OpIncr, NewValue: -3},
		{Kind: OpCheckAndSet, CheckValueReturned: true, CheckValueExist: true, CheckValue: []byte("cv")},
		{Kind: OpIncr, Err: fmt.Errorf("%w: %q", ErrIncrNotInteger, "x")},
	})
	if _, err := decodeRequestRecord(good); err != nil {
		t.Fatal(err)
	}
	for n := range len(good) {
		if _, err := decodeRequestRecord(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := decodeRequestRecord(append(append([]byte(nil), good...), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[0] = 2
	if _, err := decodeRequestRecord(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown version: %v", err)
	}
}
