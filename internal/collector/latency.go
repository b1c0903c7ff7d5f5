package collector

import (
	"math/bits"
	"time"
)

// latencyHist is a log-linear histogram of probe latencies in microseconds,
// small enough to keep one per second for an hour and one per minute for a
// day (a little under 1 KiB each).
//
// Values below subBuckets are counted exactly; above, every power of two is
// split into subBuckets equal slices, so a reported quantile (the upper
// bound of the slice it falls in) overstates the true value by at most
// 1/subBuckets = 12.5%. That is plenty for telling a 300 µs probe from a
// 30 ms one, which is what an availability timeline is for, and it keeps
// the memory bounded no matter how many probes land in a bucket.
type latencyHist struct {
	counts [histSlots]uint32
	total  uint32
	maxUS  uint32
}

const (
	subBucketBits = 3
	subBuckets    = 1 << subBucketBits
	// maxLatencyUS caps recorded values at ~35 minutes; a probe's own
	// timeout ends it long before.
	maxLatencyUS = 1<<31 - 1
	// histSlots covers exponents subBucketBits..30 with subBuckets slices
	// each, plus the exact slots below subBuckets.
	histSlots = subBuckets + (31-subBucketBits)*subBuckets
)

// slotOf returns the slot counting value v (µs).
func slotOf(v uint32) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len32(v) - 1 // v is in [2^exp, 2^(exp+1))
	sub := int(v>>(exp-subBucketBits)) & (subBuckets - 1)
	return subBuckets + (exp-subBucketBits)*subBuckets + sub
}

// slotUpper returns the largest value counted by slot i.
func slotUpper(i int) uint32 {
	if i < subBuckets {
		return uint32(i)
	}
	exp := (i-subBuckets)/subBuckets + subBucketBits
	sub := uint64((i - subBuckets) % subBuckets)
	width := uint64(1) << (exp - subBucketBits)
	upper := uint64(1)<<exp + (sub+1)*width - 1
	return uint32(min(upper, maxLatencyUS))
}

// micros converts a latency to the histogram's unit, saturating.
func micros(d time.Duration) uint32 {
	us := d.Microseconds()
	switch {
	case us < 0:
		return 0
	case us > maxLatencyUS:
		return maxLatencyUS
	}
	return uint32(us)
}

func (h *latencyHist) record(us uint32) {
	h.counts[slotOf(us)]++
	h.total++
	h.maxUS = max(h.maxUS, us)
}

// merge adds every value counted by o.
func (h *latencyHist) merge(o *latencyHist) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.maxUS = max(h.maxUS, o.maxUS)
}

// quantile returns an upper bound of the q-quantile (0 < q <= 1) in µs: the
// top of the slot holding the ceil(q·n)-th smallest value, but never more
// than the largest value seen. It returns 0 for an empty histogram.
func (h *latencyHist) quantile(q float64) uint32 {
	if h.total == 0 {
		return 0
	}
	rank := uint32(q * float64(h.total))
	if float64(rank) < q*float64(h.total) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint32
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(slotUpper(i), h.maxUS)
		}
	}
	return h.maxUS
}
