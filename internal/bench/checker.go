package bench

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of a check.
type Verdict string

const (
	// VerdictOK: the check completed and found nothing wrong.
	VerdictOK Verdict = "ok"
	// VerdictViolation: the history cannot have come from a correct store.
	VerdictViolation Verdict = "violation"
	// VerdictUnknown: the check ran out of time (or was skipped) before it
	// could decide.
	VerdictUnknown Verdict = "unknown"
)

// CheckOptions tunes CheckLinearizability.
type CheckOptions struct {
	// Timeout bounds the search over all keys (0: no bound). Keys not
	// decided in time make the verdict "unknown" unless another key
	// violated. Shrinking a violation to a minimal sub-history gets its own
	// budget of the same length.
	Timeout time.Duration
	// OutDir, when set, receives porcupine's HTML visualisation of the
	// minimal failing sub-history.
	OutDir string
	// KeyName renders a key index; nil prints the index.
	KeyName func(uint64) string
	// Events are drawn in the visualisation next to the operations.
	Events []Annotation
}

// LinearizabilityResult is the outcome of CheckLinearizability.
type LinearizabilityResult struct {
	Verdict Verdict `json:"verdict"`
	// Skipped is set when the run was configured not to check.
	Skipped bool `json:"skipped,omitempty"`
	// Ops is the number of operations that entered the check: successful
	// reads and every write that succeeded or may have, except
	// UnobservedUnknown.
	Ops int `json:"ops"`
	// UnobservedUnknown counts the Sets with an unknown outcome whose value
	// no read returned. They are left out: such a write cannot change the
	// verdict, and every one kept multiplies the orders the search tries.
	UnobservedUnknown int `json:"unobserved_unknown,omitempty"`
	Keys              int `json:"keys"`
	KeysViolated      int `json:"keys_violated"`
	KeysUnknown       int `json:"keys_unknown"`
	// Violation details the violating key with the smallest index.
	Violation *Violation `json:"violation,omitempty"`
}

// Violation is a non-linearizable sub-history of one key.
type Violation struct {
	Key string `json:"key"`
	// Minimal is true when removing any single operation from Ops (a
	// write together with the reads that observed it) leaves a
	// linearizable history; false when shrinking ran out of time and Ops
	// is merely a failing sub-history.
	Minimal bool          `json:"minimal"`
	Ops     []ViolationOp `json:"ops"`
	// Visualization is the path of the HTML rendering, when written.
	Visualization string `json:"visualization,omitempty"`

	history []Op // Ops as recorded
}

// ViolationOp is one operation of a Violation, in report form.
type ViolationOp struct {
	Client int32 `json:"client"`
	// Call is "get()", "set(w3.17)" or "del()".
	Call string `json:"call"`
	// Output is the ValueID a get read, or the write's outcome: "ok", or
	// "unknown" for a write that may have taken effect at any time after
	// it started.
	Output  string `json:"output"`
	StartUS int64  `json:"start_us"`
	EndUS   int64  `json:"end_us"`
}

// CheckLinearizability decides whether ops could have come from a
// linearizable register per key: every read returns the value of the latest
// write in some total order that respects real time. Keys are independent
// registers, so the history is split per key and the keys are checked in
// parallel.
//
// Operations enter the check as follows: a successful Get reads a value; a
// successful Set or Del writes within [Start, End]; a write with an unknown
// outcome is pending (porcupine's "return at infinity"), so the model may
// apply it at any point after it started or never observe it; failed
// operations took no effect and are left out, and so are unknown Sets whose
// value no read returned (see LinearizabilityResult.UnobservedUnknown).
//
// The returned error concerns only writing the visualisation; the result is
// valid either way.
func CheckLinearizability(ops []Op, opts CheckOptions) (LinearizabilityResult, error) {
	return checkLinearizability(opts, ops)
}

// checkLinearizability checks the concatenation of parts, which saves the
// caller building it.
func checkLinearizability(opts CheckOptions, parts ...[]Op) (LinearizabilityResult, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	// Values some successful read returned.
	observed := make(map[ValueID]struct{})
	for _, p := range parts {
		for _, op := range p {
			if op.Kind == OpGet && op.Result == ResultOK && op.Value != Absent {
				observed[op.Value] = struct{}{}
			}
		}
	}
	hist := make([]Op, 0, n)
	unobserved := 0
	for _, p := range parts {
		for _, op := range p {
			if op.Result == ResultFailed {
				continue
			}
			// An unknown Set nobody read is equivalent to one that never
			// happened. If the history is linearizable without it, it is
			// with it too: the write takes effect after everything else.
			// And if it is linearizable with it, it is without it: no read
			// falls between its linearization point and the next write
			// (that read would have returned its unique value), so
			// removing it changes what no read saw. Dropping it keeps the
			// verdict and spares the search the orders it would try.
			if op.Kind == OpSet && op.Result == ResultUnknown {
				if _, seen := observed[op.Value]; !seen {
					unobserved++
					continue
				}
			}
			hist = append(hist, op)
		}
	}
	slices.SortFunc(hist, func(a, b Op) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
	keys := splitByKey(hist)
	res := LinearizabilityResult{Verdict: VerdictOK, Ops: len(hist), Keys: len(keys), UnobservedUnknown: unobserved}
	if len(keys) == 0 {
		return res, nil
	}

	// Each key is a separate porcupine check rather than one check with a
	// Partition function: porcupine would start a goroutine per partition
	// at once (a run may write a million keys) and report one verdict for
	// all, where we want to know which key failed.
	//
	// Keys are checked shortest history first. The budget is shared, and
	// the search cost grows steeply with a key's concurrency, so a few hot
	// keys could otherwise spend it all and leave thousands of easy keys
	// undecided; this way only the hardest keys may end up unknown.
	deadline := deadlineAfter(opts.Timeout)
	verdicts := make([]Verdict, len(keys))
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(keys[a]), len(keys[b])) })
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Go(func() {
			for {
				j := int(next.Add(1) - 1)
				if j >= len(order) {
					return
				}
				i := order[j]
				verdicts[i] = checkRegister(keys[i], deadline)
			}
		})
	}
	wg.Wait()

	firstViolated := -1
	for i, v := range verdicts {
		switch v {
		case VerdictViolation:
			res.KeysViolated++
			if firstViolated < 0 {
				firstViolated = i
			}
		case VerdictUnknown:
			res.KeysUnknown++
		}
	}
	switch {
	case res.KeysViolated > 0:
		// A violation is definite however many keys went undecided.
		res.Verdict = VerdictViolation
	case res.KeysUnknown > 0:
		res.Verdict = VerdictUnknown
		return res, nil
	default:
		return res, nil
	}

	keyOps := keys[firstViolated]
	sub, minimal := minimizeViolation(keyOps, deadlineAfter(opts.Timeout))
	v := &Violation{Key: keyName(opts.KeyName, keyOps[0].Key), Minimal: minimal, history: sub}
	for _, op := range sub {
		v.Ops = append(v.Ops, violationOp(op))
	}
	res.Violation = v
	if opts.OutDir == "" {
		return res, nil
	}
	path, err := visualize(sub, v.Key, opts)
	if err != nil {
		return res, err
	}
	v.Visualization = path
	return res, nil
}

// splitByKey cuts a history sorted by key into one slice per key.
func splitByKey(hist []Op) [][]Op {
	var keys [][]Op
	for lo := 0; lo < len(hist); {
		hi := lo + 1
		for hi < len(hist) && hist[hi].Key == hist[lo].Key {
			hi++
		}
		keys = append(keys, hist[lo:hi])
		lo = hi
	}
	return keys
}

// checkRegister checks the history of one key. A zero deadline means no
// time limit.
func checkRegister(ops []Op, deadline time.Time) Verdict {
	timeout, ok := remaining(deadline)
	if !ok {
		return VerdictUnknown
	}
	switch porcupine.CheckOperationsTimeout(registerModel, toPorcupine(ops), timeout) {
	case porcupine.Ok:
		return VerdictOK
	case porcupine.Illegal:
		return VerdictViolation
	default:
		return VerdictUnknown
	}
}

// minimizeViolation shrinks the violating history of one key (sorted by
// Start) to a sub-history that still violates and from which no single
// operation can be removed without it becoming linearizable.
//
// Plain delta debugging would be misleading here: dropping the write a read
// observed makes that read inexplicable, so every violation would shrink to
// a lone read. Sub-histories are therefore kept closed: removing a write
// removes the reads that observed it too. (A read of a value no write in the
// history produced, such as a corrupt value, depends on nothing and can
// stand alone; that is the honest minimal explanation.)
//
// It returns the failing sub-history and whether it is minimal; it is not
// when the deadline expired first or a sub-check timed out.
func minimizeViolation(ops []Op, deadline time.Time) ([]Op, bool) {
	writer := make(map[ValueID]int)
	for i, op := range ops {
		if op.Kind == OpSet {
			writer[op.Value] = i
		}
	}
	// needs[i] is the write whose value read i observed, or -1.
	needs := make([]int, len(ops))
	for i, op := range ops {
		needs[i] = -1
		if op.Kind == OpGet && op.Value != Absent {
			if w, ok := writer[op.Value]; ok {
				needs[i] = w
			}
		}
	}

	minimal := true
	member := make([]bool, len(ops))
	sub := make([]Op, 0, len(ops))
	// closedFails closes the candidate idx (drops reads whose write is not
	// in it) and reports whether the result still violates. A sub-check
	// that times out counts as not violating: the candidate is kept out,
	// and the result is no longer guaranteed minimal.
	closedFails := func(idx []int) ([]int, bool) {
		clear(member)
		for _, i := range idx {
			member[i] = true
		}
		closed := make([]int, 0, len(idx))
		sub = sub[:0]
		for _, i := range idx {
			if w := needs[i]; w >= 0 && !member[w] {
				continue
			}
			closed = append(closed, i)
			sub = append(sub, ops[i])
		}
		switch checkRegister(sub, deadline) {
		case VerdictViolation:
			return closed, true
		case VerdictUnknown:
			minimal = false
		}
		return nil, false
	}
	expired := func() bool {
		_, ok := remaining(deadline)
		return !ok
	}

	cur := make([]int, len(ops))
	for i := range cur {
		cur[i] = i
	}
	// Cut the tail first: binary search for a short failing prefix (in
	// Start order). Failing is not monotone in the prefix length, but the
	// invariant "lo passes, hi fails" still lands on a failing prefix, and
	// the cheap cut leaves less for the phase below.
	lo, hi := 0, len(cur)
	var prefix []int
	for hi-lo > 1 && !expired() {
		mid := lo + (hi-lo)/2
		if closed, ok := closedFails(cur[:mid]); ok {
			hi, prefix = mid, closed
		} else {
			lo = mid
		}
	}
	if prefix != nil {
		cur = prefix
	}

	// Delta debugging by complements: try removing chunks, halving the
	// chunk size when no chunk can go, until no single operation can.
	parts := 2
	for len(cur) > 1 {
		if expired() {
			return pick(ops, cur), false
		}
		chunk := (len(cur) + parts - 1) / parts
		removed := false
		for start := 0; start < len(cur); start += chunk {
			cand := make([]int, 0, len(cur))
			cand = append(cand, cur[:start]...)
			cand = append(cand, cur[min(start+chunk, len(cur)):]...)
			if closed, ok := closedFails(cand); ok {
				cur, removed = closed, true
				parts = max(parts-1, 2)
				break
			}
		}
		if !removed {
			if chunk == 1 {
				break
			}
			parts = min(parts*2, len(cur))
		}
	}
	return pick(ops, cur), minimal
}

// pick returns ops[i] for every i in idx.
func pick(ops []Op, idx []int) []Op {
	out := make([]Op, len(idx))
	for j, i := range idx {
		out[j] = ops[i]
	}
	return out
}

// registerInput and registerOutput are the porcupine input and output of an
// operation on one key.
type registerInput struct {
	kind  OpKind
	value ValueID // the value a Set writes
}

type registerOutput struct {
	value   ValueID // the value a Get read
	unknown bool    // a write with an unknown outcome
}

// registerModel is a single register holding a ValueID (Absent initially):
// Set replaces it, Del resets it, Get must read it.
var registerModel = porcupine.Model{
	Init: func() any { return Absent },
	Step: func(state, input, output any) (bool, any) {
		cur := state.(ValueID)
		in := input.(registerInput)
		switch in.kind {
		case OpGet:
			return output.(registerOutput).value == cur, cur
		case OpSet:
			return true, in.value
		default:
			return true, Absent
		}
	},
	Hash: func(state any) uint64 { return uint64(state.(ValueID)) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(registerInput), output.(registerOutput)
		call, result := describe(in.kind, in.value, out.value, out.unknown)
		return call + " -> " + result
	},
	DescribeState: func(state any) string { return state.(ValueID).String() },
}

// describe renders an operation as a call and its output.
func describe(kind OpKind, written, read ValueID, unknown bool) (call, output string) {
	switch kind {
	case OpGet:
		return "get()", read.String()
	case OpSet:
		call = "set(" + written.String() + ")"
	default:
		call = "del()"
	}
	if unknown {
		return call, "unknown"
	}
	return call, "ok"
}

// toPorcupine converts the history of one key. A write with an unknown
// outcome returns after every other event of the history, which is
// equivalent to never returning (porcupine's pending operation) but keeps
// the visualisation finite.
func toPorcupine(ops []Op) []porcupine.Operation {
	var last time.Duration
	for _, op := range ops {
		last = max(last, op.Start)
		if op.Result == ResultOK {
			last = max(last, op.End)
		}
	}
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		in := registerInput{kind: op.Kind}
		o := registerOutput{unknown: op.Result == ResultUnknown}
		ret := op.End
		switch op.Kind {
		case OpGet:
			o.value = op.Value
		case OpSet:
			in.value = op.Value
		}
		if o.unknown {
			ret = last + 1
		}
		out[i] = porcupine.Operation{
			ClientId: int(op.Client),
			Input:    in,
			Call:     int64(op.Start),
			Output:   o,
			Return:   int64(ret),
		}
	}
	return out
}

func violationOp(op Op) ViolationOp {
	written, read := Absent, Absent
	if op.Kind == OpSet {
		written = op.Value
	} else {
		read = op.Value
	}
	call, output := describe(op.Kind, written, read, op.Result == ResultUnknown)
	return ViolationOp{
		Client:  op.Client,
		Call:    call,
		Output:  output,
		StartUS: op.Start.Microseconds(),
		EndUS:   op.End.Microseconds(),
	}
}

// visualize writes porcupine's HTML rendering of a failing sub-history,
// with the events overlapping it, and returns the file's path.
func visualize(sub []Op, key string, opts CheckOptions) (string, error) {
	ops := toPorcupine(sub)
	timeout, ok := remaining(deadlineAfter(opts.Timeout))
	if !ok {
		timeout = 0
	}
	_, info := porcupine.CheckOperationsVerbose(registerModel, ops, timeout)
	var from, to time.Duration
	for i, op := range sub {
		if i == 0 || op.Start < from {
			from = op.Start
		}
		to = max(to, op.End)
	}
	var notes []porcupine.Annotation
	for _, e := range opts.Events {
		if e.End < from || e.Start > to {
			continue
		}
		notes = append(notes, porcupine.Annotation{
			Tag:         "events",
			Start:       int64(max(e.Start, from)),
			End:         int64(min(e.End, to)),
			Description: e.Label,
		})
	}
	info.AddAnnotations(notes)
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("bench: write linearizability visualisation: %w", err)
	}
	path := filepath.Join(opts.OutDir, "linearizability-"+fileSafe(key)+".html")
	if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
		return "", fmt.Errorf("bench: write linearizability visualisation: %w", err)
	}
	return path, nil
}

// fileSafe keeps letters, digits, '-', '_' and '.', replacing the rest.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

func keyName(name func(uint64) string, key uint64) string {
	if name == nil {
		return fmt.Sprint(key)
	}
	return name(key)
}

// deadlineAfter returns now+d, or the zero time (no deadline) for d <= 0.
func deadlineAfter(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// remaining returns the time left before deadline as a porcupine timeout
// (0 meaning unlimited for the zero deadline), and false once it passed.
func remaining(deadline time.Time) (time.Duration, bool) {
	if deadline.IsZero() {
		return 0, true
	}
	left := time.Until(deadline)
	return left, left > 0
}
