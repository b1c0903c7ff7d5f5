package bench

import "time"

// OpKind is the kind of a recorded operation.
type OpKind uint8

const (
	OpGet OpKind = iota
	OpSet
	OpDel
	numOpKinds
)

// String returns the lower-case operation name used in reports.
func (k OpKind) String() string {
	switch k {
	case OpGet:
		return "get"
	case OpSet:
		return "set"
	case OpDel:
		return "del"
	}
	return "op?"
}

// Result is what the client learnt about an operation's effect.
type Result uint8

const (
	// ResultOK: the operation returned successfully.
	ResultOK Result = iota
	// ResultFailed: the operation returned an error and is known to have
	// had no effect (any failed read; writes whose error wraps ErrRejected).
	ResultFailed
	// ResultUnknown: a write returned an error (typically a timeout) after
	// which it may or may not have taken effect, now or later.
	ResultUnknown
)

// String returns "ok", "failed" or "unknown".
func (r Result) String() string {
	switch r {
	case ResultOK:
		return "ok"
	case ResultFailed:
		return "failed"
	case ResultUnknown:
		return "unknown"
	}
	return "result?"
}

// Op is one recorded operation. It is fixed-size (48 bytes) and holds no
// pointers, so a history of millions of operations stays cheap to keep and
// invisible to the garbage collector.
//
// Times are offsets on the run's monotonic clock, from the run's start.
type Op struct {
	Kind   OpKind
	Result Result
	// Client is the worker that issued the operation; the read-back after
	// the load uses client numbers above the workers'.
	Client int32
	// Key is the key index (Workload.KeyName gives its name).
	Key uint64
	// Value is the ValueID written by a Set, or read by a successful Get
	// (Absent when the key was not found, CorruptValue when the bytes were
	// not a value of this workload). Absent for Del.
	Value ValueID
	// Due is when the operation should have started: its place in the
	// open-loop schedule, or Start in closed-loop mode. Latency is End-Due,
	// which charges the client for time spent queued behind a slow server
	// (coordinated omission).
	Due time.Duration
	// Start is when the operation was handed to the target, End when the
	// target returned. Linearizability is judged on [Start, End].
	Start time.Duration
	End   time.Duration
}

// Latency is the latency the client experienced, measured from when the
// operation was due.
func (op Op) Latency() time.Duration { return op.End - op.Due }

// IsWrite reports whether the operation is a Set or a Del.
func (op Op) IsWrite() bool { return op.Kind == OpSet || op.Kind == OpDel }

// opChunkSize is the number of operations in one history chunk (384 KiB).
// Fixed-size chunks let a worker's log grow without ever copying what was
// recorded, so recording stays O(1) with no latency spikes from reallocation.
const opChunkSize = 8192

// maxDistinctErrors caps the distinct error messages a worker counts, so
// errors carrying unique text (addresses, request ids) cannot grow memory
// without bound; the excess is counted under otherErrors.
const (
	maxDistinctErrors = 64
	otherErrors       = "(other errors)"
)

// opLog is the history of one worker. Only that worker appends to it, so it
// needs no locking; the runner reads it after the worker has finished.
type opLog struct {
	chunks [][]Op
	errors map[string]int64
}

func newOpLog() *opLog {
	return &opLog{chunks: [][]Op{make([]Op, 0, opChunkSize)}}
}

// add appends op.
func (l *opLog) add(op Op) {
	last := &l.chunks[len(l.chunks)-1]
	if len(*last) == cap(*last) {
		l.chunks = append(l.chunks, make([]Op, 0, opChunkSize))
		last = &l.chunks[len(l.chunks)-1]
	}
	*last = append(*last, op)
}

// countError counts one occurrence of an error message.
func (l *opLog) countError(msg string) {
	if l.errors == nil {
		l.errors = make(map[string]int64)
	}
	if _, ok := l.errors[msg]; !ok && len(l.errors) >= maxDistinctErrors {
		msg = otherErrors
	}
	l.errors[msg]++
}

// len returns the number of recorded operations.
func (l *opLog) len() int {
	n := 0
	for _, c := range l.chunks {
		n += len(c)
	}
	return n
}

// history is the set of per-worker logs of one run.
type history struct {
	logs []*opLog
}

func newHistory(workers int) *history {
	h := &history{logs: make([]*opLog, workers)}
	for i := range h.logs {
		h.logs[i] = newOpLog()
	}
	return h
}

// ops returns every recorded operation, worker by worker; within a worker in
// the order issued.
func (h *history) ops() []Op {
	n := 0
	for _, l := range h.logs {
		n += l.len()
	}
	all := make([]Op, 0, n)
	for _, l := range h.logs {
		for _, c := range l.chunks {
			all = append(all, c...)
		}
	}
	return all
}

// errorCounts merges the per-worker error counts.
func (h *history) errorCounts() map[string]int64 {
	var merged map[string]int64
	for _, l := range h.logs {
		for msg, n := range l.errors {
			if merged == nil {
				merged = make(map[string]int64)
			}
			merged[msg] += n
		}
	}
	return merged
}
