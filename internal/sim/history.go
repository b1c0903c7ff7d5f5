package sim

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// history records what the clients saw.
type history struct {
	w       *World
	regKeys []string
	cntKeys []string
	// reg is the register history, in internal/bench's form, for its
	// porcupine checker.
	reg       []bench.Op
	nextValue bench.ValueID
	finalReg  map[int]bench.Op
	counters  map[string]*counterHist
	// unverified lists keys whose final read failed: the run could not
	// check them (a liveness problem, reported apart).
	unverified []string

	ops, failed, unknown int
}

// counterHist is the counter model's state for one key: increments
// acknowledged (incr, or check_and_set that set), increments of unknown
// outcome, and every value an acknowledged increment produced.
type counterHist struct {
	acked, unknown int
	produced       map[int64]string
	final          int64
	finalKnown     bool
}

func newHistory(w *World, regKeys, cntKeys int) *history {
	h := &history{w: w, finalReg: make(map[int]bench.Op), counters: make(map[string]*counterHist)}
	for i := range regKeys {
		h.regKeys = append(h.regKeys, fmt.Sprintf("reg%d", i))
	}
	for i := range cntKeys {
		k := fmt.Sprintf("cnt%d", i)
		h.cntKeys = append(h.cntKeys, k)
		h.counters[k] = &counterHist{produced: make(map[int64]string)}
	}
	return h
}

func (h *history) newValue() bench.ValueID {
	h.nextValue++
	return h.nextValue
}

func (h *history) count(o opOutcome) {
	h.ops++
	switch o.result {
	case outcomeFailed:
		h.failed++
	case outcomeUnknown:
		h.unknown++
	}
}

func benchResult(k outcomeKind) bench.Result {
	switch k {
	case outcomeOK:
		return bench.ResultOK
	case outcomeUnknown:
		return bench.ResultUnknown
	}
	return bench.ResultFailed
}

func (h *history) recordGet(op *bench.Op, o opOutcome) {
	h.count(o)
	op.Result, op.End = benchResult(o.result), o.end
	if o.result == outcomeOK {
		op.Value = parseValue(o.a.value, o.a.found)
	}
	h.reg = append(h.reg, *op)
}

func (h *history) recordSet(op *bench.Op, o opOutcome) {
	h.count(o)
	op.Result, op.End = benchResult(o.result), o.end
	h.reg = append(h.reg, *op)
	if o.result == outcomeOK {
		h.w.check.acked(h.w.table.gpidOf(h.regKeys[op.Key]), o.a.decree)
	}
}

func (h *history) recordCounterRead(c *client, key string, o opOutcome) {
	h.count(o)
	if o.result == outcomeOK {
		if v, err := strconv.ParseInt(orZero(o.a.value, o.a.found), 10, 64); err == nil {
			c.learn(key, v)
		}
	}
}

func (h *history) recordIncr(c *client, key string, o opOutcome) {
	h.count(o)
	ch := h.counters[key]
	switch o.result {
	case outcomeOK:
		ch.acked++
		c.learn(key, o.a.newValue)
		h.produced(ch, key, o.a.newValue, fmt.Sprintf("c%d incr", c.idx))
		h.w.check.acked(h.w.table.gpidOf(key), o.a.decree)
	case outcomeUnknown:
		ch.unknown++
	}
}

func (h *history) recordCAS(c *client, key string, set int64, o opOutcome) {
	h.count(o)
	ch := h.counters[key]
	switch o.result {
	case outcomeOK:
		if !o.a.casOK {
			if v, err := strconv.ParseInt(o.a.casCur, 10, 64); err == nil {
				c.learn(key, v)
			}
			return
		}
		ch.acked++
		c.learn(key, set)
		h.produced(ch, key, set, fmt.Sprintf("c%d check_and_set", c.idx))
		h.w.check.acked(h.w.table.gpidOf(key), o.a.decree)
	case outcomeUnknown:
		ch.unknown++
	}
}

// produced records that an acknowledged increment produced value v: two
// increments that claim the same value mean one of them was applied twice,
// or one was lost and the other returned its result.
func (h *history) produced(ch *counterHist, key string, v int64, by string) {
	if prev, ok := ch.produced[v]; ok {
		h.w.fail("counter %s: value %d returned twice, to %s and to %s", key, v, prev, by)
		return
	}
	ch.produced[v] = by
}

// verdict is the end-of-run judgement of the histories.
type verdict struct {
	linearizable bench.Verdict
	violation    string
	lost         int
}

// judge checks the register history for linearizability (internal/bench's
// porcupine checker) and every counter against the counter model:
// acknowledged <= final <= acknowledged + unknown.
func (h *history) judge() verdict {
	var v verdict
	res, _ := bench.CheckLinearizability(h.reg, bench.CheckOptions{
		KeyName: func(k uint64) string { return h.regKeys[k] },
	})
	v.linearizable = res.Verdict
	if res.Violation != nil {
		v.violation = fmt.Sprintf("register %s not linearizable: %s", res.Violation.Key, describeViolation(res.Violation))
	}
	v.lost += h.lostRegisterWrites()
	for _, key := range h.cntKeys {
		ch := h.counters[key]
		if !ch.finalKnown {
			continue
		}
		switch {
		case ch.final < int64(ch.acked):
			v.lost += ch.acked - int(ch.final)
			if v.violation == "" {
				v.violation = fmt.Sprintf("counter %s: final %d < %d acknowledged increments (lost)", key, ch.final, ch.acked)
			}
		case ch.final > int64(ch.acked+ch.unknown):
			if v.violation == "" {
				v.violation = fmt.Sprintf("counter %s: final %d > %d acknowledged + %d unknown increments (applied twice)",
					key, ch.final, ch.acked, ch.unknown)
			}
		}
	}
	return v
}

// lostRegisterWrites counts acknowledged writes that the final read should
// have seen but did not: writes that started after the write of the value
// read had completed (so they follow it in every linearization), and were
// acknowledged before the final read began.
func (h *history) lostRegisterWrites() int {
	lost := 0
	for ki, final := range h.finalReg {
		var writer *bench.Op
		for i := range h.reg {
			op := &h.reg[i]
			if op.Kind == bench.OpSet && op.Value == final.Value && final.Value != bench.Absent {
				writer = op
			}
		}
		for _, op := range h.reg {
			if op.Kind != bench.OpSet || op.Key != uint64(ki) || op.Result != bench.ResultOK || op.End >= final.Start {
				continue
			}
			if writer == nil && final.Value == bench.Absent || writer != nil && writer.Result == bench.ResultOK && op.Start > writer.End {
				lost++
			}
		}
	}
	return lost
}

func describeViolation(v *bench.Violation) string {
	ops := slices.Clone(v.Ops)
	s := ""
	for i, op := range ops {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("c%d %s=%s [%.3fs,%.3fs]", op.Client, op.Call, op.Output,
			float64(op.StartUS)/1e6, float64(op.EndUS)/1e6)
	}
	return s
}
