package pegasusserve

import (
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// scanContexts holds the open scanners between calls, by context id.
//
// A scanner is taken out for the duration of a call and put back after
// it, as the C++ server does with its context cache: two calls racing on
// one id cannot both run it (the second finds nothing and answers "context
// gone", from which the clients recover by reopening the scanner after
// their last key).
//
// Idle scanners expire after idle; when max are open, opening one more
// drops the least recently used. Both are the clients' problem in the same
// recoverable way, so memory stays bounded whatever clients do (a client
// that never clears its scanners, or opens thousands).
type scanContexts struct {
	mu     sync.Mutex
	byID   map[int64]*scanState
	nextID int64
	max    int
	idle   time.Duration
	now    func() time.Time
}

func newScanContexts(max int, idle time.Duration, now func() time.Time) *scanContexts {
	return &scanContexts{byID: make(map[int64]*scanState), max: max, idle: idle, now: now}
}

// put stores s, assigning an id on first use, and returns the id. Ids
// start at 1: they must be non-negative on the wire (-1 and -2 are
// reserved), and 0 is left unused so that scanState.id == 0 means "never
// stored".
func (c *scanContexts) put(s *scanState) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixNano()
	if s.id == 0 {
		c.nextID++
		s.id = c.nextID
	}
	s.lastUsed = now
	if _, ok := c.byID[s.id]; !ok && len(c.byID) >= c.max {
		c.evictOldestLocked()
	}
	c.byID[s.id] = s
	return s.id
}

// take removes and returns the scanner id of partition gpid, or nil if
// there is none (or it has expired). A scanner of another partition stays.
func (c *scanContexts) take(id int64, gpid pegasusrpc.Gpid) *scanState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byID[id]
	if s == nil || s.gpid != gpid {
		return nil
	}
	delete(c.byID, id)
	if c.now().UnixNano()-s.lastUsed > int64(c.idle) {
		return nil
	}
	return s
}

// remove drops the scanner id of partition gpid (clear_scanner).
func (c *scanContexts) remove(id int64, gpid pegasusrpc.Gpid) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.byID[id]; s != nil && s.gpid == gpid {
		delete(c.byID, id)
	}
}

// expire drops every scanner idle for longer than idle and returns how
// many it dropped.
func (c *scanContexts) expire() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	cutoff := c.now().UnixNano() - int64(c.idle)
	n := 0
	for id, s := range c.byID {
		if s.lastUsed < cutoff {
			delete(c.byID, id)
			n++
		}
	}
	return n
}

func (c *scanContexts) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// evictOldestLocked drops the least recently used scanner. A linear pass
// is fine: it runs only when max scanners are open, which is an abuse
// case, not the steady state.
func (c *scanContexts) evictOldestLocked() {
	var oldest *scanState
	for _, s := range c.byID {
		if oldest == nil || s.lastUsed < oldest.lastUsed {
			oldest = s
		}
	}
	if oldest != nil {
		delete(c.byID, oldest.id)
	}
}
