package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// maxRetainedScratch caps the scratch buffers a store keeps between Applies,
// so that one large value does not pin its size in every partition.
const maxRetainedScratch = 64 << 10

// Apply applies the ops of the mutation at decree, in order, with
// nowUnixSeconds (the primary's clock, carried in the mutation) as the time
// of TTL arithmetic and expiry checks. A mutation carrying a client request
// (id not zero) also records the request and its results (requests.go). The
// ops, the request record and the new applied decree are written in one
// Pebble batch, so a crash keeps all of them or none.
//
// decree must be above LastAppliedDecree, else Apply fails with
// ErrStaleDecree and writes nothing. The returned error is for the whole
// mutation (a stale decree, corrupt stored data, a Pebble failure): nothing
// was written. Per-op failures are in the results instead; such an op wrote
// nothing, the others and the decree were applied, and every replica reaches
// the same outcome.
//
// The effective time is max(nowUnixSeconds, ApplyClock()): the apply clock
// never runs backwards, even when a new primary's clock is behind the old
// one's. That keeps TTLs from stretching after a failover and is what makes
// DropExpired safe.
func (s *Store) Apply(decree int64, nowUnixSeconds uint32, id RequestID, ops []WriteOp) ([]OpResult, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if last := s.lastApplied.Load(); decree <= last {
		return nil, fmt.Errorf("%w: decree %d, last applied %d", ErrStaleDecree, decree, last)
	}
	now := max(PegasusSeconds(int64(nowUnixSeconds)), s.applyClock.Load())

	// Incr and CheckAndSet read, and must see the writes of earlier ops of
	// the same mutation: only an indexed batch reads through its own writes.
	// Plain batches are cheaper, so they serve mutations that only write.
	var b *pebble.Batch
	if readsBeforeWriting(ops) {
		b = s.db.NewIndexedBatch()
	} else {
		b = s.db.NewBatch()
	}
	defer b.Close()

	a := applier{batch: b, now: now, key: s.keyBuf[:0], val: s.valBuf[:0]}
	results := make([]OpResult, len(ops))
	for i, op := range ops {
		if op != nil {
			results[i].Kind = op.Kind()
		}
		// Only the configuration-free rules are checked here: configured
		// size limits were enforced before logging and may differ between
		// replicas, while these hold everywhere.
		if err := ValidateOp(op, SizeLimits{}); err != nil {
			results[i].Err = err
			continue
		}
		if err := a.apply(op, &results[i]); err != nil {
			return nil, fmt.Errorf("storage: apply decree %d op %d (%s): %w", decree, i, op.Kind(), err)
		}
	}
	if !id.IsZero() {
		// The request record goes in this batch, beside the decree: the
		// store knows a request exactly when it holds its effects.
		a.key = appendRequestKey(a.key[:0], s.requestBucket(now), id)
		a.val = encodeRequestRecord(a.val[:0], decree, now, results)
		if err := b.Set(a.key, a.val, nil); err != nil {
			return nil, fmt.Errorf("storage: apply decree %d: request record: %w", decree, err)
		}
	}
	a.val = encodeAppliedState(a.val[:0], decree, now)
	if err := b.Set(appliedStateKey, a.val, nil); err != nil {
		return nil, fmt.Errorf("storage: apply decree %d: %w", decree, err)
	}
	if err := b.Commit(s.writeOpts); err != nil {
		return nil, fmt.Errorf("storage: apply decree %d: commit: %w", decree, err)
	}
	s.lastApplied.Store(decree)
	s.applyClock.Store(now)
	s.keyBuf, s.valBuf = retainScratch(a.key), retainScratch(a.val)
	return results, nil
}

func readsBeforeWriting(ops []WriteOp) bool {
	for _, op := range ops {
		switch op.(type) {
		case Incr, CheckAndSet:
			return true
		}
	}
	return false
}

func retainScratch(b []byte) []byte {
	if cap(b) > maxRetainedScratch {
		return nil
	}
	return b[:0]
}

// applier adds the writes of validated ops to one batch.
type applier struct {
	batch *pebble.Batch
	now   uint32
	// key and val are scratch buffers; Batch.Set copies its arguments.
	key, val []byte
}

// apply adds op to the batch and fills res. It returns an error only for a
// failure of the whole mutation; an op-level failure goes to res.Err.
func (a *applier) apply(op WriteOp, res *OpResult) error {
	switch op := op.(type) {
	case Put:
		return a.set(op.HashKey, op.SortKey, op.Value, a.expireFor(op.TTLSeconds))
	case Remove:
		return a.remove(op.HashKey, op.SortKey)
	case MultiPut:
		expire := a.expireFor(op.TTLSeconds)
		for _, kv := range op.KVs {
			if err := a.set(op.HashKey, kv.SortKey, kv.Value, expire); err != nil {
				return err
			}
		}
		return nil
	case MultiRemove:
		for _, sk := range op.SortKeys {
			if err := a.remove(op.HashKey, sk); err != nil {
				return err
			}
		}
		return nil
	case Incr:
		return a.incr(op, res)
	case CheckAndSet:
		return a.checkAndSet(op, res)
	}
	// Unreachable: ValidateOp refused every other type.
	return fmt.Errorf("%w: %T", ErrUnknownOp, op)
}

// expireFor returns the expire_ts of a record written now with a Put-style
// TTL: 0 for none.
func (a *applier) expireFor(ttlSeconds int32) uint32 {
	if ttlSeconds <= 0 {
		return 0
	}
	return expireAt(a.now, ttlSeconds)
}

func (a *applier) set(hashKey, sortKey, value []byte, expireTS uint32) error {
	a.key = appendKey(a.key[:0], hashKey, sortKey)
	a.val = appendValue(a.val[:0], expireTS, value)
	return a.batch.Set(a.key, a.val, nil)
}

func (a *applier) remove(hashKey, sortKey []byte) error {
	a.key = appendKey(a.key[:0], hashKey, sortKey)
	return a.batch.Delete(a.key, nil)
}

// liveRecord is a record read inside Apply. user stays valid until release.
type liveRecord struct {
	exist    bool
	expireTS uint32
	user     []byte
	closer   io.Closer
}

func (r liveRecord) release() {
	if r.closer != nil {
		_ = r.closer.Close()
	}
}

// get reads a record through the batch, so that it sees earlier ops of the
// mutation. A record expired at the apply time counts as absent.
func (a *applier) get(hashKey, sortKey []byte) (liveRecord, error) {
	a.key = appendKey(a.key[:0], hashKey, sortKey)
	raw, closer, err := a.batch.Get(a.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return liveRecord{}, nil
	}
	if err != nil {
		return liveRecord{}, err
	}
	expireTS, user, err := decodeValue(raw)
	if err != nil {
		_ = closer.Close()
		return liveRecord{}, err
	}
	if isExpired(expireTS, a.now) {
		_ = closer.Close()
		return liveRecord{}, nil
	}
	return liveRecord{exist: true, expireTS: expireTS, user: user, closer: closer}, nil
}

// incr follows Pegasus: an absent, expired or empty value counts as 0; a
// value that is not an integer, or a sum that overflows, fails the op.
func (a *applier) incr(op Incr, res *OpResult) error {
	rec, err := a.get(op.HashKey, op.SortKey)
	if err != nil {
		return err
	}
	var base int64
	if rec.exist && len(rec.user) > 0 {
		v, ok := parseCInt64(rec.user)
		if !ok {
			res.Err = fmt.Errorf("%w: %q", ErrIncrNotInteger, truncateForError(rec.user))
			rec.release()
			return nil
		}
		base = v
	}
	rec.release()

	sum, ok := addInt64(base, op.Delta)
	if !ok {
		res.Err = fmt.Errorf("%w: %d + %d", ErrIncrOverflow, base, op.Delta)
		res.NewValue = base
		return nil
	}
	var expire uint32
	switch {
	case op.TTLSeconds > 0:
		expire = expireAt(a.now, op.TTLSeconds)
	case op.TTLSeconds == 0 && rec.exist:
		expire = rec.expireTS
	}
	var digits [20]byte
	if err := a.set(op.HashKey, op.SortKey, strconv.AppendInt(digits[:0], sum, 10), expire); err != nil {
		return err
	}
	res.NewValue = sum
	return nil
}

func addInt64(x, y int64) (int64, bool) {
	if (y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y) {
		return 0, false
	}
	return x + y, true
}

// checkAndSet follows Pegasus: the check value is reported when asked for,
// whatever the check's outcome; a check that fails, or cannot be evaluated,
// writes nothing.
func (a *applier) checkAndSet(op CheckAndSet, res *OpResult) error {
	rec, err := a.get(op.HashKey, op.CheckSortKey)
	if err != nil {
		return err
	}
	passed, checkErr := op.CheckType.passes(op.CheckOperand, rec.exist, rec.user)
	res.CheckValueReturned = op.ReturnCheckValue
	if op.ReturnCheckValue && rec.exist {
		res.CheckValueExist = true
		res.CheckValue = append(make([]byte, 0, len(rec.user)), rec.user...)
	}
	rec.release()
	if checkErr != nil {
		res.Err = checkErr
		return nil
	}
	res.CheckPassed = passed
	if !passed {
		return nil
	}
	return a.set(op.HashKey, op.SetSortKey, op.SetValue, a.expireFor(op.SetTTLSeconds))
}
