package replica

import (
	"sync"

	"github.com/pegasus-go/pegasus/internal/pacifica"
)

// eventKind says what an event carries.
type eventKind uint8

const (
	evWrite      eventKind = iota + 1 // a client write to propose
	evMessage                         // a message from another replica
	evAppended                        // the outstanding Ready's log append completed
	evLogRead                         // old log entries read for a learner or lagging member
	evCheckpoint                      // a checkpoint copied from the primary, to install
	evConfig                          // a configuration from the meta server
	evClose                           // close the replica
	evRemove                          // the meta server no longer places the replica here
)

// event is one input of a partition's goroutine. Only the fields of its kind
// are set.
type event struct {
	kind   eventKind
	write  *pendingWrite
	msg    pacifica.Message
	err    error
	read   *logReadResult
	ckpt   *fetchedCheckpoint
	config *configUpdate
	close  *closeRequest
	remove *removeRequest
}

// Queue bounds. A full queue refuses client writes with ERR_BUSY and drops
// peer messages (the sending primary retransmits); other events are never
// refused, they are few and each answers work the partition asked for.
const (
	maxQueuedWrites   = 4096
	maxQueuedMessages = 8192
)

// inbox is a partition's input queue: any goroutine pushes, the partition's
// goroutine takes everything queued at once, so that whatever arrived while
// it was busy is handled together and lands in one Ready.
type inbox struct {
	mu       sync.Mutex
	events   []event
	writes   int
	messages int
	closed   bool
	// signal has room for one token: a push while the goroutine is busy
	// leaves it set, and the goroutine takes every event on its next pass.
	signal chan struct{}
}

func newInbox() inbox { return inbox{signal: make(chan struct{}, 1)} }

// notify wakes the partition's goroutine.
func (q *inbox) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// push queues ev. It returns ErrClosed once the partition is closing and
// ErrBusy when a bounded kind of event would overflow the queue.
func (q *inbox) push(ev event) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrClosed
	case ev.kind == evWrite && q.writes >= maxQueuedWrites,
		ev.kind == evMessage && q.messages >= maxQueuedMessages:
		q.mu.Unlock()
		return ErrBusy
	}
	switch ev.kind {
	case evWrite:
		q.writes++
	case evMessage:
		q.messages++
	}
	q.events = append(q.events, ev)
	q.mu.Unlock()
	q.notify()
	return nil
}

// take moves every queued event into buf.
func (q *inbox) take(buf []event) []event {
	q.mu.Lock()
	buf = append(buf, q.events...)
	clear(q.events)
	q.events = q.events[:0]
	q.writes, q.messages = 0, 0
	q.mu.Unlock()
	return buf
}

// close refuses further pushes and returns what is still queued.
func (q *inbox) close() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	rest := q.events
	q.events = nil
	return rest
}
