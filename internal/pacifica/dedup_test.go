package pacifica

import "testing"

func TestDedupTableWindow(t *testing.T) {
	tbl := newDedupTable(8) // generations of 4
	id := func(n int) RequestID { return RequestID{ClientID: 1, Seq: uint64(n)} }
	for n := 1; n <= 20; n++ {
		tbl.add(id(n), Decree(n))
	}
	// The last size/2 ids are always known...
	for n := 17; n <= 20; n++ {
		if d, ok := tbl.lookup(id(n)); !ok || d != Decree(n) {
			t.Fatalf("id %d: got %d %v", n, d, ok)
		}
	}
	// ...and nothing older than size.
	for n := 1; n <= 12; n++ {
		if _, ok := tbl.lookup(id(n)); ok {
			t.Fatalf("id %d outlived the window", n)
		}
	}
	tbl.add(RequestID{}, 21)
	if _, ok := tbl.lookup(RequestID{}); ok {
		t.Fatal("the zero id was recorded")
	}
}

func TestDedupTableRemove(t *testing.T) {
	tbl := newDedupTable(100)
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
	tbl.add(a, 6)
	tbl.reset()
	if _, ok := tbl.lookup(a); ok {
		t.Fatal("id known after reset")
	}
}
