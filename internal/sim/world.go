package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"
)

// World is one simulated cluster: every process, the network between them,
// their disks and clocks, and the queue of events that drives them. It runs
// in one goroutine; all randomness comes from one generator seeded by the
// run's seed, so a run is a pure function of its seed and options.
type World struct {
	opts Options
	rng  *rand.Rand
	// now is the true time since the start of the run. Processes never see
	// it: they read their own clocks (clock.go).
	now    time.Duration
	seq    uint64
	events eventHeap
	steps  int
	// stopped ends the run loop (a violation was found, or the run is over).
	stopped bool

	trace *trace
	net   *network
	etcd  *etcd

	metas   []*metaServer
	nodes   []*replicaServer
	clients []*client
	// reader reads every key back at the end.
	reader *client
	byName map[string]*proc

	// loadEnd is when clients stop issuing operations; idleClients counts
	// those that did; finished is set once the final reads are done.
	loadEnd     time.Duration
	idleClients int
	finished    bool
	// finalAfter is the earliest time the final reads may start.
	finalAfter time.Duration

	table tableShape
	hist  *history
	check *checker
	// stats counts what the report and the fault matrix show.
	stats runStats
}

// proc is one process: a replica server, a meta server, a client or etcd.
// It lives on its own host, whose clock survives restarts.
type proc struct {
	name string
	up   bool
	// inc counts the process's lives. Events scheduled for one life are
	// dropped once it has ended: a crash loses timers, in-flight calls and
	// messages on their way in.
	inc int
	// pausedUntil freezes the process (a stop-the-world pause, SIGSTOP): its
	// events wait until then and run late.
	pausedUntil time.Duration
	clock       *clock
}

// event is something that happens at a point of true time, for one life of
// one process (or for the world itself when p is nil).
type event struct {
	at  time.Duration
	seq uint64
	p   *proc
	inc int
	fn  func()
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// schedule runs fn after d of true time, within the current life of p
// (nil: the world's own event, never dropped).
func (w *World) schedule(p *proc, d time.Duration, fn func()) {
	w.seq++
	e := &event{at: w.now + max(d, 0), seq: w.seq, p: p, fn: fn}
	if p != nil {
		e.inc = p.inc
	}
	heap.Push(&w.events, e)
}

// after runs fn after d of p's own (monotonic) time: a timer of p. Clock
// drift stretches or shrinks it in true time.
func (w *World) after(p *proc, d time.Duration, fn func()) {
	w.schedule(p, p.clock.trueDuration(d), fn)
}

// step runs the next event. It returns false when there is none.
func (w *World) step() bool {
	if len(w.events) == 0 {
		return false
	}
	e := heap.Pop(&w.events).(*event)
	w.now = e.at
	if p := e.p; p != nil {
		if !p.up || p.inc != e.inc {
			return true // that life is over
		}
		if w.now < p.pausedUntil {
			// Frozen: run when the pause ends, in the original order.
			w.seq++
			e.at, e.seq = p.pausedUntil, w.seq
			heap.Push(&w.events, e)
			return true
		}
	}
	w.steps++
	w.trace.event(e.at, e.seq)
	e.fn()
	w.check.afterStep()
	return true
}

// newProc registers a process; it starts down.
func (w *World) newProc(name string, c *clock) *proc {
	p := &proc{name: name, clock: c}
	w.byName[name] = p
	return p
}

// start begins a new life of p.
func (w *World) start(p *proc) {
	p.up = true
	p.inc++
}

// kill ends p's current life at once (kill -9, power loss of its host).
func (w *World) kill(p *proc) {
	p.up = false
}

// chance reports true with probability q.
func (w *World) chance(q float64) bool { return q > 0 && w.rng.Float64() < q }

// between returns a uniformly random duration in [lo, hi].
func (w *World) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

// pick returns a random element of xs.
func pick[T any](w *World, xs []T) T { return xs[w.rng.IntN(len(xs))] }

// fail records a safety violation and stops the run.
func (w *World) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.trace.note("VIOLATION: %s", msg)
	w.stats.violations = append(w.stats.violations, msg)
	if !w.opts.KeepGoing {
		w.stopped = true
	}
}

// newIncarnation draws the name of a new copy of a partition (the server's
// newIncarnation, from the run's generator).
func (w *World) newIncarnation() uint64 {
	for {
		if n := w.rng.Uint64(); n != 0 {
			return n
		}
	}
}
