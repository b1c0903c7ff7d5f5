package client

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The data path. Every replica server gets one gRPC connection and on it one
// long-lived ReplicaClient.Data stream, shared by all operations routed to
// that server: each request carries an id, the server answers in any order,
// and replies are matched back to their callers by id. This is what lets a
// single connection carry hundreds of thousands of operations a second where
// one unary call per operation would stall at a fraction of that.
//
// Deadlines and cancellation live on top of the stream, per request: a
// caller that gives up removes its request from the pending set and returns;
// the reply, if it ever comes, finds no one waiting and is dropped. A stream
// that breaks fails every request still pending on it with a retryable
// transport error, and the next request opens a new stream.
//
// Each request is marshalled by its caller into a frame before it is queued;
// one goroutine per stream drains the queue and hands every ready frame to
// gRPC in one pass, which coalesces them into few socket writes. Marshalling
// in the caller spreads the encoding work over all callers instead of the
// one sender, makes the size check exact, and means the stream never holds a
// reference to the caller's key and value slices once the call has returned.

// frame is a ClientRequest already in wire form.
type frame []byte

// frameCodec sends frames as they are and decodes replies as protobuf. It
// carries the name of the standard codec, so the server sees ordinary
// protobuf traffic and needs nothing special.
type frameCodec struct{}

var protoCodec = encoding.GetCodecV2(grpcproto.Name)

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(*f)}, nil
	}
	return protoCodec.Marshal(v)
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error { return protoCodec.Unmarshal(data, v) }

func (frameCodec) Name() string { return grpcproto.Name }

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
	done  chan callResult // capacity 1: the single delivery never blocks
}

// callResult is what one attempt on a stream produced: a reply, or the
// error that prevented one and the rule for it.
type callResult struct {
	resp *pb.ClientResponse
	err  error
	rule rule
	// sent reports that the request may have reached the server.
	sent bool
}

// replicaConn is the client's connection to one replica server.
type replicaConn struct {
	addr   string
	cc     *grpc.ClientConn
	ctx    context.Context // parent of every stream; canceled by close
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu      sync.Mutex
	active  *dataStream
	opening *streamOpen
	closed  bool
}

// streamOpen is one attempt to open a stream, shared by every caller that
// needs the stream while it is being opened.
type streamOpen struct {
	done chan struct{}
	s    *dataStream
	err  *transportError
}

func newReplicaConn(addr string, cc *grpc.ClientConn) *replicaConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &replicaConn{addr: addr, cc: cc, ctx: ctx, cancel: cancel}
}

// roundTrip sends req on the server's stream and waits for the reply or for
// ctx to end. It sets req.Id. When ctx ends first, the result's err is the
// context's error and sent says whether the request may have reached the
// server.
func (c *replicaConn) roundTrip(ctx context.Context, req *pb.ClientRequest) callResult {
	req.Id = c.nextID.Add(1)
	buf, err := proto.Marshal(req)
	if err != nil {
		return callResult{err: fmt.Errorf("%w: encoding request: %v", ErrInvalidArgument, err), rule: rule{kind: ErrInvalidArgument, rejected: true}}
	}
	if len(buf) > rpc.MaxMessageSize {
		return callResult{
			err:  fmt.Errorf("%w: request of %d bytes exceeds the %d byte limit", ErrInvalidArgument, len(buf), rpc.MaxMessageSize),
			rule: rule{kind: ErrInvalidArgument, rejected: true},
		}
	}
	s, terr := c.stream(ctx)
	if terr != nil {
		return callResult{err: terr, rule: terr.rule}
	}
	if ctx.Err() != nil {
		return callResult{err: ctx.Err()}
	}
	cl := &call{id: req.Id, frame: buf, done: make(chan callResult, 1)}
	if terr := s.enqueue(cl); terr != nil {
		return callResult{err: terr, rule: terr.rule}
	}
	select {
	case res := <-cl.done:
		return res
	case <-ctx.Done():
		sent := s.abandon(cl)
		select {
		case res := <-cl.done:
			// The reply raced the deadline and won: it is still an answer.
			return res
		default:
		}
		return callResult{err: ctx.Err(), sent: sent}
	}
}

// stream returns the open stream, opening one if there is none. Opening runs
// in its own goroutine under the connection's lifetime, not the caller's: a
// caller that gives up while the server is being reached does not waste the
// attempt for the callers behind it.
func (c *replicaConn) stream(ctx context.Context) (*dataStream, *transportError) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		te := transportRule(c.addr, ErrClosed)
		return nil, te
	}
	if s := c.active; s != nil {
		c.mu.Unlock()
		return s, nil
	}
	op := c.opening
	if op == nil {
		op = &streamOpen{done: make(chan struct{})}
		c.opening = op
		go c.open(op)
	}
	c.mu.Unlock()
	select {
	case <-op.done:
		// The stream may already have broken again; enqueue then reports
		// why, which is what the caller needs to hear.
		return op.s, op.err
	case <-ctx.Done():
		te := transportRule(c.addr, ctx.Err())
		return nil, te
	}
}

func (c *replicaConn) open(op *streamOpen) {
	ctx, cancel := context.WithCancel(c.ctx)
	gs, err := pb.NewReplicaClientClient(c.cc).Data(ctx, grpc.ForceCodecV2(frameCodec{}))
	c.mu.Lock()
	c.opening = nil
	switch {
	case c.closed:
		cancel()
		op.err = transportRule(c.addr, ErrClosed)
	case err != nil:
		cancel()
		op.err = transportRule(c.addr, err)
	default:
		s := &dataStream{
			conn:    c,
			gs:      gs,
			cancel:  cancel,
			wake:    make(chan struct{}, 1),
			done:    make(chan struct{}),
			pending: make(map[uint64]*call),
		}
		c.active = s
		op.s = s
		go s.sendLoop()
		go s.recvLoop()
	}
	c.mu.Unlock()
	close(op.done)
}

// forget drops s as the active stream once it has broken.
func (c *replicaConn) forget(s *dataStream) {
	c.mu.Lock()
	if c.active == s {
		c.active = nil
	}
	c.mu.Unlock()
}

// close fails everything pending with ErrClosed and closes the connection.
func (c *replicaConn) close() {
	c.mu.Lock()
	c.closed = true
	s := c.active
	c.active = nil
	c.mu.Unlock()
	if s != nil {
		s.fail(ErrClosed)
	}
	c.cancel()
	c.cc.Close()
}

// dataStream is one ReplicaClient.Data stream and the calls in flight on it.
type dataStream struct {
	conn   *replicaConn
	gs     grpc.BidiStreamingClient[pb.ClientRequest, pb.ClientResponse]
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: "the queue is not empty"
	done   chan struct{} // closed when the stream has failed

	mu      sync.Mutex
	pending map[uint64]*call // queued or sent, awaiting a reply
	queue   []*call          // not yet handed to gRPC
	err     *transportError  // why the stream failed; nil while it works
}

// enqueue registers cl and queues it for sending, or reports why the stream
// cannot take it.
func (s *dataStream) enqueue(cl *call) *transportError {
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
			cl.done <- callResult{resp: resp, sent: true}
		}
	}
}

// fail ends the stream once: every pending call gets the transport error,
// marked sent only if it was handed to gRPC, and the connection forgets the
// stream so that the next request opens a new one.
func (s *dataStream) fail(cause error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	te := transportRule(s.conn.addr, cause)
	s.err = te
	pending := s.pending
	s.pending = nil
	s.queue = nil
	close(s.done)
	s.mu.Unlock()

	s.cancel()
	s.conn.forget(s)
	for _, cl := range pending {
		cl.state.CompareAndSwap(callQueued, callAbandoned)
		cl.done <- callResult{err: te, rule: te.rule, sent: cl.state.Load() == callSent}
	}
}
