package stream

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Life of a call on a stream. A call leaves callQueued exactly once, by a
// compare-and-swap: to callSent when the sender hands it to gRPC, or to
// callAbandoned when its caller gives up or the stream breaks first. Only a
// call that reached callSent can have reached the server, which is what
// decides whether a failed write's outcome is unknown.
const (
	callQueued int32 = iota
	callSent
	callAbandoned
)

type call struct {
	id    uint64
	frame frame
	state atomic.Int32
	done  chan result // capacity 1: the single delivery never blocks
}

// result is what one request on a stream came to: a reply, or the *Error
// that prevented one.
type result struct {
	resp *pb.ClientResponse
	err  error
}

// dataStream is one ReplicaClient.Data stream and the calls in flight on it.
type dataStream struct {
	conn   *Conn
	gs     grpc.BidiStreamingClient[pb.ClientRequest, pb.ClientResponse]
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: "the queue is not empty"
	done   chan struct{} // closed when the stream has failed

	mu      sync.Mutex
	pending map[uint64]*call // queued or sent, awaiting a reply
	queue   []*call          // not yet handed to gRPC
	err     error            // why the stream failed; nil while it works
}

// enqueue registers cl and queues it for sending, or reports why the stream
// cannot take it.
func (s *dataStream) enqueue(cl *call) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.pending[cl.id] = cl
	s.queue = append(s.queue, cl)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// abandon withdraws cl on behalf of a caller that stopped waiting and
// reports whether it may already have reached the server.
func (s *dataStream) abandon(cl *call) bool {
	s.mu.Lock()
	delete(s.pending, cl.id)
	s.mu.Unlock()
	cl.state.CompareAndSwap(callQueued, callAbandoned)
	return cl.state.Load() == callSent
}

// sendLoop hands queued frames to gRPC. It takes the whole queue at once, so
// requests that arrive while a batch is being written go out together in
// the next one.
func (s *dataStream) sendLoop() {
	var batch []*call
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for i, cl := range batch {
			batch[i] = nil
			if !cl.state.CompareAndSwap(callQueued, callSent) {
				continue // its caller gave up before it was sent
			}
			if err := s.gs.SendMsg(&cl.frame); err != nil {
				// gRPC reports a broken stream to the sender as io.EOF and
				// the cause to the receiver, which fails the stream with it.
				// Any other error is the sender's own and ends the stream.
				if err != io.EOF {
					s.fail(err)
				}
				return
			}
		}
	}
}

// recvLoop matches replies to their calls until the stream fails. A reply
// whose call is no longer pending belongs to a caller that gave up; it is
// dropped.
func (s *dataStream) recvLoop() {
	for {
		resp, err := s.gs.Recv()
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		cl := s.pending[resp.GetId()]
		delete(s.pending, resp.GetId())
		s.mu.Unlock()
		if cl != nil {
			cl.done <- result{resp: resp}
		}
	}
}

// fail ends the stream once: every pending call gets the cause, marked sent
// only if it was handed to gRPC, and the connection forgets the stream so
// that the next request opens a new one.
func (s *dataStream) fail(cause error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = cause
	pending := s.pending
	s.pending = nil
	s.queue = nil
	close(s.done)
	s.mu.Unlock()

	s.cancel()
	s.conn.forget(s)
	for _, cl := range pending {
		cl.state.CompareAndSwap(callQueued, callAbandoned)
		cl.done <- result{err: &Error{Addr: s.conn.addr, Sent: cl.state.Load() == callSent, Err: cause}}
	}
}
