package mutlog

import (
	"fmt"
	"slices"
)

// GC removes the oldest segments whose every record has a decree at or below
// durableDecree, the decree up to which the storage has flushed. It stops at
// the first segment that holds a later decree and never removes the active
// segment; removing only a prefix of the log keeps supersede semantics
// intact, because a record can only be superseded by a later one. It
// returns how many segments it removed. GC is safe with concurrent appends,
// and a Replay or Read already running keeps reading removed segments.
func (l *Log) GC(durableDecree int64) (int, error) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	n := 0
	for n < len(l.segments)-1 {
		s := l.segments[n]
		if !s.sealed || (s.records > 0 && s.maxDecree > durableDecree) {
			break
		}
		n++
	}
	victims := slices.Clone(l.segments[:n])
	if n > 0 {
		l.segments = slices.Delete(l.segments, 0, n)
		l.index.dropSegmentsThrough(victims[n-1].seq)
	}
	l.mu.Unlock()

	var err error
	for _, s := range victims {
		// Remove in log order and stop at the first failure: the files
		// left behind then still form a prefix of the log, which the next
		// Open accepts and the next GC removes.
		if err == nil {
			if rerr := l.fs.Remove(s.path); rerr != nil {
				err = fmt.Errorf("mutlog: remove %s: %w", s.path, rerr)
			}
		}
		if uerr := s.unref(); uerr != nil && err == nil {
			err = fmt.Errorf("mutlog: close %s: %w", s.path, uerr)
		}
	}
	if n > 0 && err == nil {
		err = syncDir(l.fs, l.dir)
	}
	return n, err
}
