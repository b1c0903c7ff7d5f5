package collector

// probeBucket aggregates the probes issued during one second or one minute.
type probeBucket struct {
	// start is the Unix second the bucket begins at; 0 marks a slot that
	// was never used.
	start    int64
	probes   uint32
	failures uint32
	latency  latencyHist
}

func (b *probeBucket) add(us uint32, ok bool) {
	b.probes++
	if !ok {
		b.failures++
	}
	b.latency.record(us)
}

// bucketRing keeps the latest len(slots) buckets of width seconds each,
// addressed by time: the bucket starting at s lives in slot (s/width) mod
// len(slots). A slot holding an older bucket is recycled when a newer one
// needs it, so the ring never allocates after construction and forgets
// exactly what has fallen out of its span.
type bucketRing struct {
	width int64
	slots []probeBucket
}

func newBucketRing(width int64, n int) *bucketRing {
	return &bucketRing{width: width, slots: make([]probeBucket, n)}
}

// startOf returns the start of the bucket containing Unix second sec.
func (r *bucketRing) startOf(sec int64) int64 { return sec - sec%r.width }

func (r *bucketRing) slot(start int64) *probeBucket {
	return &r.slots[(start/r.width)%int64(len(r.slots))]
}

// add counts one probe issued at Unix second sec. A probe older than the
// bucket now occupying its slot arrived too late to be kept (it would have
// to be more than a whole span late) and is dropped.
func (r *bucketRing) add(sec int64, us uint32, ok bool) {
	if sec <= 0 {
		return // slot start 0 means unused; no probe predates 1970
	}
	start := r.startOf(sec)
	b := r.slot(start)
	switch {
	case b.start == start:
	case b.start < start:
		*b = probeBucket{start: start}
	default:
		return
	}
	b.add(us, ok)
}

// get returns the bucket starting at start, or nil when the ring holds no
// probe for it.
func (r *bucketRing) get(start int64) *probeBucket {
	b := r.slot(start)
	if b.start != start || start == 0 {
		return nil
	}
	return b
}
