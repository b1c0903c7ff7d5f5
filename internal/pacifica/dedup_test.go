package pacifica

import (
	"errors"
	"testing"
)

func TestInflightIDsRemoveOnlyTheirDecree(t *testing.T) {
	tbl := make(inflightIDs)
	a := RequestID{ClientID: 7, Seq: 1}
	tbl.add(a, 5)
	tbl.remove(a, 4) // a record for another decree: kept
	if d, ok := tbl.lookup(a); !ok || d != 5 {
		t.Fatalf("got %d %v", d, ok)
	}
	tbl.remove(a, 5)
	if _, ok := tbl.lookup(a); ok {
		t.Fatal("removed id still known")
	}
	tbl.add(RequestID{}, 6)
	if len(tbl) != 0 {
		t.Fatal("the zero id was recorded")
	}
}

// TestInflightBoundaryIsTheAppliedDecree walks one write through its life on
// a single-replica primary and checks which half of exactly-once knows its
// id at every step: the core until Advance reports it applied, storage (the
// driver's lookup) from the apply on. There is no moment when neither does.
func TestInflightBoundaryIsTheAppliedDecree(t *testing.T) {
	r, err := New(Config{ID: "1", MinReplicaCount: 1}, DurableState{}, clockStart)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 1, Primary: "1"}); err != nil {
		t.Fatal(err)
	}
	drain(r)
	id := RequestID{ClientID: 3, Seq: 9}
	d, err := r.Propose(id, []byte("x"), 0)
	if err != nil || d != 1 {
		t.Fatalf("Propose = %d, %v", d, err)
	}
	known := func() bool { _, ok := r.inflight.lookup(id); return ok }

	// Logged, not durable: in flight. A retry joins it.
	rd := r.Ready()
	if len(rd.Entries) != 1 || len(rd.Committed) != 0 || !known() {
		t.Fatalf("first Ready: %d entries, %d committed, known %v", len(rd.Entries), len(rd.Committed), known())
	}
	r.Advance(rd)
	if d2, err := r.Propose(id, []byte("x"), 0); err != nil || d2 != 1 {
		t.Fatalf("retry while in flight = %d, %v; want the original decree", d2, err)
	}
	// Handed out for applying: still known to the core until Advance (the
	// driver applies, and writes the request record, before that).
	rd = r.Ready()
	if len(rd.Committed) != 1 || !known() {
		t.Fatalf("second Ready: %d committed, known %v", len(rd.Committed), known())
	}
	if d3, err := r.Propose(id, []byte("x"), 0); err != nil || d3 != 1 {
		t.Fatalf("retry between Ready and Advance = %d, %v", d3, err)
	}
	r.Advance(rd)
	// Applied: storage's from now on.
	if known() {
		t.Fatal("an applied request is still in flight in the core")
	}
	var replies []Reply
	for _, rd := range drain(r) {
		replies = append(replies, rd.Replies...)
	}
	// The original and the retries (one reply per request and decree).
	for _, rp := range replies {
		if rp.ID != id || rp.Decree != 1 || rp.Err != nil {
			t.Fatalf("reply %v", rp)
		}
	}

	// A restart replays entries above the storage's decree into the table,
	// none at or below it.
	e := func(d Decree, seq uint64) Entry {
		return Entry{Ballot: 1, Decree: d, RequestID: RequestID{ClientID: 4, Seq: seq}}
	}
	r2, err := New(Config{ID: "1"}, DurableState{HardState: HardState{Ballot: 1}, AppliedDecree: 2, Entries: []Entry{e(1, 1), e(2, 2), e(3, 3)}}, clockStart)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r2.inflight.lookup(RequestID{ClientID: 4, Seq: 2}); ok {
		t.Fatal("a replayed entry storage holds is in flight")
	}
	if d, ok := r2.inflight.lookup(RequestID{ClientID: 4, Seq: 3}); !ok || d != 3 {
		t.Fatal("a replayed entry above storage is not in flight")
	}
	if err := r2.InstallCheckpoint(CheckpointRequest{}, 3); !errors.Is(err, ErrCheckpointNotWanted) {
		t.Fatalf("InstallCheckpoint on an inactive replica: %v", err)
	}
}
