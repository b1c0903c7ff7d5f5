package storage

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Expired records are invisible to reads, but they hold disk space until
// something deletes them. RocksDB-based Pegasus drops them in a compaction
// filter; Pebble has none, so the store sweeps instead: DropExpired walks the
// record keyspace a bounded step at a time, from where the previous step
// stopped, and deletes the records that have expired.
//
// The deletions are local: they are not logged or replicated, and with the
// WAL off they only become durable with the next flush. That is safe because
// a sweep changes nothing any replica can observe, now or later:
//
//   - A record is dropped only if it expired by the apply clock (the largest
//     time any applied mutation carried), not by the local wall clock. Apply
//     never runs its clock below the apply clock and reads never judge expiry
//     below it either, so every later Apply and every read on this replica
//     already treats the record as absent. Deleting it changes no result.
//   - Other replicas apply the same mutations and reach the same apply clock
//     at the same decree, so they treat the record as absent too, whether or
//     not they have swept it: incr and check_and_set compute the same results
//     everywhere.
//   - A crash keeps a prefix of the batches committed before it. A sweep batch
//     in that prefix comes after the Applies whose clock it used, so the
//     recovered apply clock is at least the sweep's horizon.
//   - A checkpoint is taken with writers excluded, so it holds an applied
//     state whose clock covers every sweep it contains.
//
// The horizon is therefore the apply clock alone. A partition that takes no
// writes keeps its horizon still; the replication layer's periodic empty
// writes (which carry the primary's time) move it forward.

// SweepStats reports one DropExpired step.
type SweepStats struct {
	// Scanned is the number of records visited, Dropped how many of them
	// were expired and deleted.
	Scanned, Dropped int
	// Wrapped reports that the step reached the end of the keyspace; the
	// next step starts over from the first record.
	Wrapped bool
}

// DropExpired visits up to maxKeys records after where the previous call
// stopped and deletes those expired by the apply clock. It blocks writers
// while it runs, so maxKeys bounds the pause it causes.
func (s *Store) DropExpired(maxKeys int) (SweepStats, error) {
	var stats SweepStats
	if maxKeys <= 0 {
		return stats, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return stats, ErrClosed
	}
	horizon := s.applyClock.Load()

	var lower []byte
	if s.sweepCursor != nil {
		lower = append(bytes.Clone(s.sweepCursor), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: recordKeysEnd})
	if err != nil {
		return stats, fmt.Errorf("storage: sweep: new iterator: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()

	valid := it.First()
	for ; valid && stats.Scanned < maxKeys; valid = it.Next() {
		raw, err := it.ValueAndErr()
		if err != nil {
			return stats, fmt.Errorf("storage: sweep: read value: %w", err)
		}
		expireTS, _, err := decodeValue(raw)
		if err != nil {
			return stats, fmt.Errorf("%w (key %x)", err, it.Key())
		}
		stats.Scanned++
		if isExpired(expireTS, horizon) {
			if err := b.Delete(it.Key(), nil); err != nil {
				return stats, fmt.Errorf("storage: sweep: %w", err)
			}
			stats.Dropped++
		}
		s.sweepCursor = append(s.sweepCursor[:0], it.Key()...)
	}
	if err := it.Error(); err != nil {
		return stats, fmt.Errorf("storage: sweep: iterate: %w", err)
	}
	if !valid {
		stats.Wrapped = true
		s.sweepCursor = nil
	}
	if stats.Dropped > 0 {
		if err := b.Commit(pebble.NoSync); err != nil {
			return stats, fmt.Errorf("storage: sweep: commit: %w", err)
		}
	}
	return stats, nil
}
