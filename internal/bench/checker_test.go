package bench

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Helpers building histories by hand; times are in milliseconds.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// v names the n-th write of client 0.
func v(n uint64) ValueID { return makeValueID(0, n) }

func setOp(client int32, key uint64, value ValueID, start, end int) Op {
	return Op{Kind: OpSet, Client: client, Key: key, Value: value, Due: ms(start), Start: ms(start), End: ms(end)}
}

func getOp(client int32, key uint64, read ValueID, start, end int) Op {
	return Op{Kind: OpGet, Client: client, Key: key, Value: read, Due: ms(start), Start: ms(start), End: ms(end)}
}

func delOp(client int32, key uint64, start, end int) Op {
	return Op{Kind: OpDel, Client: client, Key: key, Due: ms(start), Start: ms(start), End: ms(end)}
}

func withResult(op Op, r Result) Op {
	op.Result = r
	return op
}

func TestLinearizableHistories(t *testing.T) {
	for name, ops := range map[string][]Op{
		"empty": nil,
		"sequential": {
			getOp(0, 1, Absent, 0, 1),
			setOp(0, 1, v(1), 2, 3),
			getOp(1, 1, v(1), 4, 5),
			setOp(1, 1, v(2), 6, 7),
			getOp(0, 1, v(2), 8, 9),
		},
		"read concurrent with a write may see either value": {
			setOp(0, 1, v(1), 0, 1),
			setOp(0, 1, v(2), 2, 10),
			getOp(1, 1, v(1), 3, 4),
			getOp(1, 1, v(2), 5, 6),
		},
		"unknown write observed long after it timed out": {
			withResult(setOp(0, 1, v(1), 0, 5), ResultUnknown),
			getOp(1, 1, Absent, 6, 7),
			getOp(1, 1, v(1), 50, 51),
		},
		"unknown write never observed": {
			setOp(0, 1, v(1), 0, 1),
			withResult(setOp(0, 1, v(2), 2, 5), ResultUnknown),
			getOp(1, 1, v(1), 6, 7),
		},
		"failed reads observe nothing": {
			setOp(0, 1, v(1), 0, 1),
			withResult(getOp(1, 1, Absent, 2, 3), ResultFailed),
		},
		"delete": {
			setOp(0, 1, v(1), 0, 1),
			delOp(0, 1, 2, 3),
			getOp(1, 1, Absent, 4, 5),
		},
		// As one register this would be a stale read of key 1; keys are
		// independent registers.
		"keys are independent": {
			setOp(0, 1, v(1), 0, 1),
			setOp(0, 2, v(2), 2, 3),
			getOp(1, 1, v(1), 4, 5),
			getOp(1, 2, v(2), 4, 5),
		},
	} {
		res, err := CheckLinearizability(ops, CheckOptions{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != VerdictOK || res.Violation != nil {
			t.Errorf("%s: verdict %s (%+v), want ok", name, res.Verdict, res.Violation)
		}
	}
}

func TestNonLinearizableHistories(t *testing.T) {
	for name, ops := range map[string][]Op{
		"stale read": {
			setOp(0, 1, v(1), 0, 1),
			setOp(0, 1, v(2), 2, 3),
			getOp(1, 1, v(1), 4, 5),
		},
		"lost acknowledged write": {
			setOp(0, 1, v(1), 0, 1),
			getOp(1, 1, Absent, 2, 3),
		},
		"read of a rejected write": {
			withResult(setOp(0, 1, v(1), 0, 1), ResultFailed),
			getOp(1, 1, v(1), 2, 3),
		},
		"corrupt read": {
			setOp(0, 1, v(1), 0, 1),
			getOp(1, 1, CorruptValue, 2, 3),
		},
		"read after delete sees the old value": {
			setOp(0, 1, v(1), 0, 1),
			delOp(0, 1, 2, 3),
			getOp(1, 1, v(1), 4, 5),
		},
		"reads go back in time during a write": {
			setOp(0, 1, v(1), 0, 1),
			setOp(0, 1, v(2), 2, 20),
			getOp(1, 1, v(2), 3, 4),
			getOp(1, 1, v(1), 5, 6),
		},
	} {
		res, err := CheckLinearizability(ops, CheckOptions{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != VerdictViolation || res.Violation == nil || res.KeysViolated != 1 {
			t.Errorf("%s: verdict %s, %d keys violated, want one violation", name, res.Verdict, res.KeysViolated)
		}
	}
}

func TestViolationIsShrunkToMinimalHistory(t *testing.T) {
	// Noise on key 3 around a stale read: two clients write and read
	// correctly, each read overlapping the next write and observing the
	// previous one (so that every cut through the noise separates reads
	// from the writes they observed); then client 2 reads v(5000) after
	// v(5001) was acknowledged.
	var ops []Op
	tm := 0
	for i := range uint64(1000) {
		ops = append(ops,
			setOp(int32(i%2), 3, v(i+1), tm, tm+2),
			getOp(int32(1-i%2), 3, v(i), tm+1, tm+4))
		tm += 5
	}
	ops[1].Value = Absent // the first read precedes every write
	stale := []Op{
		setOp(0, 3, v(5000), tm, tm+1),
		setOp(1, 3, v(5001), tm+2, tm+3),
		getOp(2, 3, v(5000), tm+4, tm+5),
	}
	ops = append(ops, stale...)
	for i := range uint64(10) {
		tm += 10
		ops = append(ops, setOp(0, 3, v(6000+i), tm, tm+1), getOp(1, 3, v(6000+i), tm+2, tm+3))
	}
	// A healthy key checked alongside.
	ops = append(ops, setOp(0, 4, v(7000), 0, 1), getOp(1, 4, v(7000), 2, 3))

	res, err := CheckLinearizability(ops, CheckOptions{Timeout: 10 * time.Second, KeyName: func(k uint64) string {
		return "key-" + string(rune('0'+k))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictViolation || res.Keys != 2 || res.KeysViolated != 1 {
		t.Fatalf("verdict %s, %d keys, %d violated; want a violation on 1 of 2 keys", res.Verdict, res.Keys, res.KeysViolated)
	}
	viol := res.Violation
	if viol.Key != "key-3" || !viol.Minimal {
		t.Errorf("violation on %q, minimal %v; want key-3, minimal", viol.Key, viol.Minimal)
	}
	if len(viol.history) != len(stale) {
		t.Fatalf("shrunk to %d ops, want the %d of the stale read: %+v", len(viol.history), len(stale), viol.Ops)
	}
	for i, op := range viol.history {
		if op != stale[i] {
			t.Errorf("op %d: %+v, want %+v", i, op, stale[i])
		}
	}
	wantOps := []ViolationOp{
		{Client: 0, Call: "set(w0.5000)", Output: "ok"},
		{Client: 1, Call: "set(w0.5001)", Output: "ok"},
		{Client: 2, Call: "get()", Output: "w0.5000"},
	}
	for i, want := range wantOps {
		got := viol.Ops[i]
		if got.Client != want.Client || got.Call != want.Call || got.Output != want.Output {
			t.Errorf("reported op %d: %+v, want %+v", i, got, want)
		}
	}
	assertOneMinimal(t, viol.history)
}

// assertOneMinimal checks that removing any single operation from a failing
// history either leaves a read without the write it observed or makes the
// history linearizable.
func assertOneMinimal(t *testing.T, hist []Op) {
	t.Helper()
	if checkRegister(hist, time.Time{}) != VerdictViolation {
		t.Fatal("the reported history is linearizable")
	}
	for i := range hist {
		rest := append(append([]Op(nil), hist[:i]...), hist[i+1:]...)
		if hist[i].Kind == OpSet && readsValue(rest, hist[i].Value) {
			continue // not a closed sub-history
		}
		if checkRegister(rest, time.Time{}) == VerdictViolation {
			t.Errorf("still violates without op %d (%+v): not minimal", i, hist[i])
		}
	}
}

func readsValue(ops []Op, value ValueID) bool {
	for _, op := range ops {
		if op.Kind == OpGet && op.Value == value {
			return true
		}
	}
	return false
}

func TestCorruptReadShrinksToTheRead(t *testing.T) {
	ops := []Op{
		setOp(0, 1, v(1), 0, 1),
		getOp(1, 1, v(1), 2, 3),
		getOp(1, 1, CorruptValue, 4, 5),
		setOp(0, 1, v(2), 6, 7),
	}
	res, err := CheckLinearizability(ops, CheckOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || len(res.Violation.history) != 1 || res.Violation.history[0] != ops[2] {
		t.Fatalf("violation %+v, want the corrupt read alone", res.Violation)
	}
}

func TestCheckTimeoutIsUnknown(t *testing.T) {
	// A long correct history with concurrent clients and unknown writes
	// takes porcupine far more than a millisecond (about 0.2 s).
	var ops []Op
	for i := range 10_000 {
		id := makeValueID(i%4, uint64(i))
		op := setOp(int32(i%4), 1, id, 10*i, 10*i+25)
		if i%97 == 0 {
			op.Result = ResultUnknown
		}
		ops = append(ops, op, getOp(int32(4+i%4), 1, id, 10*i+26, 10*i+27))
	}
	res, err := CheckLinearizability(ops, CheckOptions{Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictUnknown || res.KeysUnknown != 1 || res.Violation != nil {
		t.Errorf("verdict %s with %d keys undecided, want unknown", res.Verdict, res.KeysUnknown)
	}
	// Given time, the same history checks out: "unknown" came from the
	// timeout alone.
	res, err = CheckLinearizability(ops, CheckOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictOK {
		t.Errorf("without the tight timeout: verdict %s, want ok", res.Verdict)
	}
}

func TestViolationVisualisationWritten(t *testing.T) {
	dir := t.TempDir()
	ops := []Op{
		setOp(0, 7, v(1), 0, 1),
		setOp(0, 7, v(2), 2, 3),
		getOp(1, 7, v(1), 4, 5),
	}
	res, err := CheckLinearizability(ops, CheckOptions{
		Timeout: 10 * time.Second,
		OutDir:  dir,
		KeyName: func(uint64) string { return "user/7" },
		Events:  []Annotation{{Label: "restart node 2", Start: 0, End: ms(10)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := res.Violation.Visualization
	if !strings.HasPrefix(path, dir) || !strings.HasSuffix(path, "linearizability-user_7.html") {
		t.Fatalf("visualisation at %q, want linearizability-user_7.html in %s", path, dir)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "set(w0.2)", "restart node 2"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("visualisation lacks %q", want)
		}
	}
}

func TestUnobservedUnknownWritesLeftOut(t *testing.T) {
	// Two unknown writes nobody read, one unknown write a read observed.
	ops := []Op{
		setOp(0, 1, v(1), 0, 1),
		withResult(setOp(0, 1, v(2), 2, 5), ResultUnknown),
		withResult(setOp(1, 1, v(3), 3, 6), ResultUnknown),
		withResult(setOp(2, 1, v(4), 4, 7), ResultUnknown),
		getOp(3, 1, v(4), 8, 9),
	}
	res, err := CheckLinearizability(ops, CheckOptions{})
	if err != nil || res.Verdict != VerdictOK {
		t.Fatalf("verdict %s, err %v", res.Verdict, err)
	}
	if res.UnobservedUnknown != 2 || res.Ops != 3 {
		t.Errorf("unobserved unknown %d, ops %d; want 2 left out, 3 checked", res.UnobservedUnknown, res.Ops)
	}

	// Leaving them out never hides a violation: a stale read after an
	// acknowledged write is still one.
	stale := []Op{
		setOp(0, 1, v(1), 0, 1),
		withResult(setOp(1, 1, v(2), 0, 5), ResultUnknown),
		setOp(0, 1, v(3), 2, 3),
		getOp(2, 1, v(1), 10, 11),
	}
	res, err = CheckLinearizability(stale, CheckOptions{})
	if err != nil || res.Verdict != VerdictViolation || res.UnobservedUnknown != 1 {
		t.Errorf("stale read: verdict %s, unobserved %d, err %v; want a violation with 1 left out", res.Verdict, res.UnobservedUnknown, err)
	}
}

// contendedKey is a history the search cannot decide quickly: n writes and
// n reads of their values, all concurrent, then a read of the initial
// value, which no order allows. Refuting it means trying every
// interleaving of the 2n concurrent operations.
func contendedKey(key uint64, n int) []Op {
	var ops []Op
	for i := range n {
		val := makeValueID(int(key)*1000+i, 1)
		ops = append(ops, setOp(int32(i), key, val, 0, 1000), getOp(int32(n+i), key, val, 0, 1000))
	}
	return append(ops, getOp(int32(2*n), key, Absent, 2000, 2001))
}

func TestHotKeysDoNotStarveEasyKeys(t *testing.T) {
	// As many hopeless keys as the checker has workers, at the lowest key
	// indexes, then many easy ones. Checked in key order, the hopeless
	// keys would hold every worker until the deadline and leave the easy
	// keys undecided.
	hard := runtime.GOMAXPROCS(0)
	var ops []Op
	for k := range hard {
		ops = append(ops, contendedKey(uint64(k), 16)...)
	}
	const easy = 50
	for k := hard; k < hard+easy; k++ {
		ops = append(ops, setOp(0, uint64(k), makeValueID(0, uint64(k)), 0, 1), getOp(1, uint64(k), makeValueID(0, uint64(k)), 2, 3))
	}
	res, err := CheckLinearizability(ops, CheckOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != hard+easy || res.KeysUnknown+res.KeysViolated != hard {
		t.Errorf("%d keys, %d unknown, %d violated: want only the %d contended keys undecided", res.Keys, res.KeysUnknown, res.KeysViolated, hard)
	}
}
