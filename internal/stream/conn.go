package stream

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Conn is the connection to one replica server and its Data stream. It is
// safe for concurrent use.
type Conn struct {
	addr   string
	cc     *grpc.ClientConn
	ctx    context.Context // parent of every stream; canceled by Close
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu      sync.Mutex
	active  *dataStream
	opening *streamOpen
	closed  bool
}

// streamOpen is one attempt to open a stream, shared by every caller that
// needs the stream while it is being opened. s and err are set before done
// is closed.
type streamOpen struct {
	done chan struct{}
	s    *dataStream
	err  error
}

// New returns the Conn to the replica server at addr over cc, which it
// takes over: Close closes it. No stream is opened until the first
// request.
func New(addr string, cc *grpc.ClientConn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{addr: addr, cc: cc, ctx: ctx, cancel: cancel}
}

// Addr is the address of the replica server.
func (c *Conn) Addr() string { return c.addr }

// RoundTrip sends req on the server's stream and waits for the reply or for
// ctx to end. It sets req.Id and, on a write, numbers this send in
// req.RequestId.Attempt (from 1, counting every RoundTrip of the same
// RequestID); the caller sets everything else, TimeoutMs included. req is
// encoded before RoundTrip returns and not used afterwards.
//
// Without a reply, the error is an *Error saying whether req may have
// reached the server. A reply that arrives together with the end of ctx
// is still returned: it is an answer.
func (c *Conn) RoundTrip(ctx context.Context, req *pb.ClientRequest) (*pb.ClientResponse, error) {
	req.Id = c.nextID.Add(1)
	if rid := req.GetRequestId(); rid != nil && rid.Attempt < math.MaxUint32 {
		rid.Attempt++
	}
	// Sized first, so that an oversized request is refused without
	// encoding it; the encoding then reuses the sizes computed.
	size := proto.Size(req)
	if size > rpc.MaxMessageSize {
		return nil, c.unsent(fmt.Errorf("%w: request of %d bytes exceeds the %d byte limit", ErrInvalidRequest, size, rpc.MaxMessageSize))
	}
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(make([]byte, 0, size), req)
	if err != nil {
		return nil, c.unsent(fmt.Errorf("%w: encoding: %v", ErrInvalidRequest, err))
	}
	s, err := c.stream(ctx)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, c.unsent(ctx.Err())
	}
	cl := &call{id: req.Id, frame: buf, done: make(chan result, 1)}
	if err := s.enqueue(cl); err != nil {
		return nil, c.unsent(err)
	}
	select {
	case res := <-cl.done:
		return res.resp, res.err
	case <-ctx.Done():
		sent := s.abandon(cl)
		select {
		case res := <-cl.done:
			// The reply raced the deadline and won: it is still an answer.
			return res.resp, res.err
		default:
		}
		return nil, &Error{Addr: c.addr, Sent: sent, Err: ctx.Err()}
	}
}

// unsent reports a request that failed before it was handed to gRPC.
func (c *Conn) unsent(err error) *Error { return &Error{Addr: c.addr, Err: err} }

// stream returns the open stream, opening one if there is none. Opening runs
// in its own goroutine under the connection's lifetime, not the caller's: a
// caller that gives up while the server is being reached does not waste the
// attempt for the callers behind it.
func (c *Conn) stream(ctx context.Context) (*dataStream, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.unsent(ErrClosed)
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
		if op.err != nil {
			return nil, c.unsent(op.err)
		}
		return op.s, nil
	case <-ctx.Done():
		return nil, c.unsent(ctx.Err())
	}
}

func (c *Conn) open(op *streamOpen) {
	ctx, cancel := context.WithCancel(c.ctx)
	gs, err := pb.NewReplicaClientClient(c.cc).Data(ctx, grpc.ForceCodecV2(frameCodec{}))
	c.mu.Lock()
	c.opening = nil
	switch {
	case c.closed:
		cancel()
		op.err = ErrClosed
	case err != nil:
		cancel()
		op.err = err
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
func (c *Conn) forget(s *dataStream) {
	c.mu.Lock()
	if c.active == s {
		c.active = nil
	}
	c.mu.Unlock()
}

// Close fails every pending request with ErrClosed and closes the gRPC
// connection. Requests after Close fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s := c.active
	c.active = nil
	c.mu.Unlock()
	if s != nil {
		s.fail(ErrClosed)
	}
	c.cancel()
	return c.cc.Close()
}
