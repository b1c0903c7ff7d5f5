package sim

import (
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"time"
)

// trace keeps what a failing run prints: the notable events (faults, role
// and configuration changes, openings, violations) with their time, the
// last traceKeep of them; with a writer set, every one of them as it
// happens. It also hashes every event the run executed, so that two runs of
// a seed can be compared (TestSimDeterministic).
type trace struct {
	w     *World
	lines []string
	next  int
	full  bool
	out   io.Writer
	hash  uint64
	// noted counts the notable events.
	noted int
}

const traceKeep = 400

func newTrace(w *World, out io.Writer) *trace {
	return &trace{w: w, out: out, hash: fnv.New64a().Sum64(), lines: make([]string, 0, traceKeep)}
}

// event folds one executed event into the run's fingerprint.
func (t *trace) event(at time.Duration, seq uint64) {
	t.hash = (t.hash ^ uint64(at)) * 1099511628211
	t.hash = (t.hash ^ seq) * 1099511628211
}

// note records a notable event.
func (t *trace) note(format string, args ...any) {
	line := fmt.Sprintf("%9.3fs  ", t.w.now.Seconds()) + fmt.Sprintf(format, args...)
	t.noted++
	h := fnv.New64a()
	h.Write([]byte(line))
	t.hash = (t.hash ^ h.Sum64()) * 1099511628211
	if t.out != nil {
		fmt.Fprintln(t.out, line)
	}
	if len(t.lines) < traceKeep {
		t.lines = append(t.lines, line)
		return
	}
	t.lines[t.next] = line
	t.next = (t.next + 1) % traceKeep
	t.full = true
}

// tail returns the last n notable events.
func (t *trace) tail(n int) string {
	var all []string
	if t.full {
		all = append(append(all, t.lines[t.next:]...), t.lines[:t.next]...)
	} else {
		all = t.lines
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
