package collector

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestSlotsCoverEveryValueInOrder(t *testing.T) {
	// Every value maps to a slot whose upper bound is at least the value
	// and at most 1/subBuckets above it, and slots never go backwards.
	prev := -1
	check := func(v uint32) {
		s := slotOf(v)
		if s < prev || s >= histSlots {
			t.Fatalf("value %d: slot %d after slot %d (of %d)", v, s, prev, histSlots)
		}
		prev = s
		up := slotUpper(s)
		if up < v || float64(up-v) > float64(v)/subBuckets {
			t.Fatalf("value %d: slot %d upper bound %d", v, s, up)
		}
		if s > 0 && slotUpper(s-1) >= v {
			t.Fatalf("value %d also fits slot %d (upper %d)", v, s-1, slotUpper(s-1))
		}
	}
	for v := uint32(0); v < 1<<16; v++ {
		check(v)
	}
	for v := uint64(1 << 16); v <= maxLatencyUS; v = v*9/8 + 1 {
		check(uint32(v))
	}
	check(maxLatencyUS)
}

func TestQuantilesAgainstSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h latencyHist
	var samples []uint32
	for range 5000 {
		// Mostly fast, a tail of slow ones, like probes during a failover.
		v := uint32(200 + rng.IntN(800))
		if rng.IntN(100) == 0 {
			v = uint32(100_000 + rng.IntN(900_000))
		}
		samples = append(samples, v)
		h.record(v)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[int(q*float64(len(samples))+0.999999)-1]
		got := h.quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/subBuckets) {
			t.Errorf("q%v: got %d, exact %d", q, got, exact)
		}
	}
	if h.maxUS != samples[len(samples)-1] || h.quantile(1) != h.maxUS {
		t.Errorf("max %d, q1 %d, want %d", h.maxUS, h.quantile(1), samples[len(samples)-1])
	}
	var empty latencyHist
	if empty.quantile(0.99) != 0 {
		t.Error("empty histogram has a non-zero quantile")
	}
}

func TestMergeAddsCounts(t *testing.T) {
	var a, b latencyHist
	for v := range uint32(100) {
		a.record(v)
		b.record(v + 1000)
	}
	a.merge(&b)
	if a.total != 200 || a.maxUS != 1099 || a.quantile(0.5) < 99 || a.quantile(0.5) > 111 || a.quantile(0.51) < 1000 {
		t.Fatalf("merged: total %d, max %d, p50 %d, p51 %d", a.total, a.maxUS, a.quantile(0.5), a.quantile(0.51))
	}
}

func TestMicrosSaturates(t *testing.T) {
	if micros(-time.Second) != 0 || micros(time.Hour) != maxLatencyUS || micros(1500*time.Microsecond) != 1500 {
		t.Fatal("micros does not clamp")
	}
}
