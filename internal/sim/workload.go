package sim

import (
	"strconv"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// The workloads: registers (put and get over a few keys, judged by
// porcupine through internal/bench's checker) and counters (incr and
// check_and_set over a few other keys, judged by the counter model in
// history.go). Every client runs one operation at a time, in a closed loop
// with a short think time, until the load ends; then one reader reads every
// key back once the cluster has healed.

// clientLoop issues the client's next operation.
func (w *World) clientLoop(c *client) {
	if w.now >= w.loadEnd {
		w.clientIdle()
		return
	}
	h := w.hist
	next := func(d time.Duration) {
		w.after(c.p, d, func() { w.clientLoop(c) })
	}
	think := w.between(0, w.opts.think)
	reader := c.idx < w.opts.readers
	if reader || w.rng.IntN(100) < w.opts.registerPct {
		ki := w.rng.IntN(len(h.regKeys))
		key := h.regKeys[ki]
		if reader || w.rng.IntN(2) == 0 {
			op := bench.Op{Kind: bench.OpGet, Client: int32(c.idx), Key: uint64(ki), Start: w.now}
			c.run(mutation{kind: opGet, key: key}, w.opts.regTimeout, func(o opOutcome) {
				h.recordGet(&op, o)
				next(think)
			})
			return
		}
		id := h.newValue()
		op := bench.Op{Kind: bench.OpSet, Client: int32(c.idx), Key: uint64(ki), Value: id, Start: w.now}
		c.run(mutation{kind: opPut, key: key, value: valueString(id)}, w.opts.regTimeout, func(o opOutcome) {
			h.recordSet(&op, o)
			next(think)
		})
		return
	}
	key := h.cntKeys[w.rng.IntN(len(h.cntKeys))]
	mix := w.opts.cntMix
	r := w.rng.IntN(mix[0] + mix[1] + mix[2])
	switch {
	case r < mix[0]:
		c.run(mutation{kind: opGet, key: key}, w.opts.cntTimeout, func(o opOutcome) {
			h.recordCounterRead(c, key, o)
			next(think)
		})
	case r < mix[0]+mix[1]:
		c.run(mutation{kind: opIncr, key: key, delta: 1}, w.opts.cntTimeout, func(o opOutcome) {
			h.recordIncr(c, key, o)
			next(think)
		})
	default:
		expect := c.known(key)
		set := strconv.FormatInt(expect+1, 10)
		c.run(mutation{kind: opCAS, key: key, expect: strconv.FormatInt(expect, 10), value: set}, w.opts.cntTimeout,
			func(o opOutcome) {
				h.recordCAS(c, key, expect+1, o)
				next(think)
			})
	}
}

// clientIdle notes a client that finished; once all have, the final reads
// start.
func (w *World) clientIdle() {
	w.idleClients++
	if w.idleClients == len(w.clients) {
		w.schedule(nil, w.finalAfter-w.now, w.finalReads)
	}
}

// finalReads reads every key back with a long deadline, from a fresh
// reader, once faults have stopped and the cluster had time to heal.
func (w *World) finalReads() {
	r := w.reader
	w.start(r.p)
	h := w.hist
	pending := len(h.regKeys) + len(h.cntKeys)
	done := func() {
		pending--
		if pending == 0 {
			w.finished = true
		}
	}
	for ki, key := range h.regKeys {
		ki, key := ki, key
		w.schedule(r.p, time.Duration(ki)*time.Millisecond, func() {
			op := bench.Op{Kind: bench.OpGet, Client: int32(r.idx), Key: uint64(ki), Start: w.now}
			r.run(mutation{kind: opGet, key: key}, w.opts.finalTimeout, func(o opOutcome) {
				h.recordGet(&op, o)
				if o.result != outcomeOK {
					h.unverified = append(h.unverified, key)
				} else {
					h.finalReg[ki] = op
				}
				done()
			})
		})
	}
	for i, key := range h.cntKeys {
		key := key
		w.schedule(r.p, time.Duration(len(h.regKeys)+i)*time.Millisecond, func() {
			r.run(mutation{kind: opGet, key: key}, w.opts.finalTimeout, func(o opOutcome) {
				if o.result != outcomeOK {
					h.unverified = append(h.unverified, key)
				} else if v, err := strconv.ParseInt(orZero(o.a.value, o.a.found), 10, 64); err == nil {
					ch := h.counters[key]
					ch.final, ch.finalKnown = v, true
				}
				done()
			})
		})
	}
}

func orZero(v string, found bool) string {
	if !found {
		return "0"
	}
	return v
}

// known returns the client's last known value of a counter.
func (c *client) known(key string) int64 {
	if c.counters == nil {
		return 0
	}
	return c.counters[key]
}

func (c *client) learn(key string, v int64) {
	if c.counters == nil {
		c.counters = make(map[string]int64)
	}
	c.counters[key] = v
}

func valueString(id bench.ValueID) string { return "v" + strconv.FormatUint(uint64(id), 10) }

func parseValue(s string, found bool) bench.ValueID {
	if !found {
		return bench.Absent
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(s, "v"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "v") || id == 0 {
		return bench.CorruptValue
	}
	return bench.ValueID(id)
}
