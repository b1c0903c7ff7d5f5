package replica

import (
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// Replica data recovery (Pegasus' "replica data recovery"): a replica whose
// files fail their checksums when it opens cannot be served, and retrying
// the open gives the same answer forever. Its directory is moved aside to
// <app_id>.<pidx>.<unix_us>.err (garbage.go keeps it for
// gc_disk_error_replica_interval_seconds, for inspection), counted in
// pegasus_replica_corrupt_replicas_total and logged. The server then holds
// no copy of the partition, which is what the meta server and the
// partition's primary see:
//
//   - With a primary elsewhere, the primary has the missing member removed
//     and the meta server adds a learner, which starts from an empty copy
//     and learns everything (checkpoint, then log) from the primary.
//   - Without one, the partition waits for a member that holds its data
//     (decide's RecoveryCandidate: a node counts only with the copy of the
//     incarnation it was dropped with). The moved-aside copy has another
//     directory, so a fresh copy made later never passes for it: nothing
//     is truncated into a smaller history by guess. An operator sees the
//     reason in `ls -d` and can salvage the .err directory by hand.
//
// Other open failures (an I/O error, a full disk) may pass; the replica is
// left in place and opened again on demand, but no sooner than a delay
// that doubles with each consecutive failure (openRetryMin up to
// openRetryMax), so a primary asking this server to learn several times a
// second does not turn into as many failing opens.

const (
	openRetryMin = time.Second
	openRetryMax = time.Minute
)

// openRetry is the backoff state of a partition whose last open failed.
type openRetry struct {
	failures int
	next     time.Time
}

// isCorrupt reports whether an open failed because the replica's files
// are damaged (checksum, framing, a hole in the log, undecodable metadata),
// as opposed to the environment.
func isCorrupt(err error) bool {
	for _, c := range []error{mutlog.ErrCorrupt, ErrCorruptLog, ErrCorruptInfo, storage.ErrCorrupt, pebble.ErrCorruption} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// openBackedOffLocked reports whether opening g must wait after earlier
// failures. s.mu must be held.
func (s *Server) openBackedOffLocked(g gpid, now time.Time) bool {
	r, ok := s.openRetries[g]
	return ok && now.Before(r.next)
}

// openSucceeded forgets g's failures.
func (s *Server) openSucceeded(g gpid) {
	s.mu.Lock()
	delete(s.openRetries, g)
	s.mu.Unlock()
}

// openFailed handles a failed open of g at dir: a corrupt replica is moved
// aside (moved reports it; the partition may be opened afresh at once),
// any other failure delays the next attempt.
func (s *Server) openFailed(g gpid, dir string, err error) (moved bool) {
	s.opts.Metrics.OpenFailures.Inc()
	if isCorrupt(err) {
		if _, statErr := s.fs.Stat(dir); statErr == nil {
			name, bytes, mvErr := s.renameAside(g, dir, errorSuffix)
			if mvErr == nil {
				s.opts.Metrics.CorruptReplicas.Inc()
				s.log.Error("corrupt replica moved aside for inspection; a fresh copy is learned from the primary (ls -d says why a partition without one waits)",
					"gpid", g.String(), "dir", name, "bytes", bytes, "err", err,
					"collect_after", time.Now().Add(s.retention(errorSuffix[1:])).UTC())
				s.openSucceeded(g)
				return true
			}
			s.log.Error("moving a corrupt replica aside failed", "gpid", g.String(), "err", mvErr)
		}
	}
	s.mu.Lock()
	r := s.openRetries[g]
	r.failures++
	delay := min(openRetryMin<<min(r.failures-1, 16), openRetryMax)
	r.next = time.Now().Add(delay)
	s.openRetries[g] = r
	s.mu.Unlock()
	s.log.Error("opening a partition replica failed", "gpid", g.String(), "failures", r.failures,
		"retry_after", delay, "err", err)
	return false
}
