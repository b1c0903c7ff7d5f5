package pegasusserve

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// dataClient carries translated requests to the local replica server over
// its own ReplicaClient.Data stream, the path our Go client uses: one
// long-lived bidirectional stream, many requests in flight, each tagged
// with an id and matched with its reply, in any order. Going through the
// replica's public data path rather than its internals means a request
// from a Pegasus client meets the same primary check, lease check,
// PacificA write path and limits as one from our own client.
//
// A stream that breaks fails every request pending on it (ErrBackendBroken:
// they were sent, their outcome is unknown) and the next request opens a
// new one. Opening runs in its own goroutine under the client's lifetime,
// so a caller that gives up while the server is being reached does not
// cancel the attempt for the callers queued behind it.
type dataClient struct {
	cc     *grpc.ClientConn
	stub   pb.ReplicaClientClient
	ctx    context.Context // parent of every stream; canceled by close
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu      sync.Mutex
	active  *dataStream
	opening *streamOpen // the attempt in progress, if any
	closed  bool
}

// streamOpen is one attempt to open a stream, shared by every request that
// needs the stream while it is being opened. s and err are set before done
// is closed.
type streamOpen struct {
	done chan struct{}
	s    *dataStream
	err  error
}

func newDataClient(cc *grpc.ClientConn) *dataClient {
	ctx, cancel := context.WithCancel(context.Background())
	return &dataClient{cc: cc, stub: pb.NewReplicaClientClient(cc), ctx: ctx, cancel: cancel}
}

// dataStream is one open Data stream and its pending requests.
type dataStream struct {
	gs     pb.ReplicaClient_DataClient
	cancel context.CancelFunc

	sendMu sync.Mutex // gRPC allows one sender at a time

	mu      sync.Mutex
	pending map[uint64]chan *pb.ClientResponse
	broken  error // set once; every later request fails with it
}

// roundTrip sends req (setting its id and timeout) and waits for the reply
// or for ctx to end. Errors wrap ErrBackendUnavailable when req cannot
// have reached the server, ErrBackendBroken or ctx's error when it may
// have.
func (c *dataClient) roundTrip(ctx context.Context, req *pb.ClientRequest) (*pb.ClientResponse, error) {
	s, err := c.stream(ctx)
	if err != nil {
		return nil, err
	}
	req.Id = c.nextID.Add(1)
	req.TimeoutMs = remainingMillis(ctx)
	done := make(chan *pb.ClientResponse, 1)
	if err := s.register(req.Id, done); err != nil {
		return nil, err
	}
	s.sendMu.Lock()
	err = s.gs.Send(req)
	s.sendMu.Unlock()
	if err != nil {
		// A failed Send did not queue the message; the stream is dead.
		s.unregister(req.Id)
		c.fail(s, fmt.Errorf("%w: send: %v", ErrBackendBroken, err))
		return nil, fmt.Errorf("%w: send: %v", ErrBackendUnavailable, err)
	}
	select {
	case resp, ok := <-done:
		if !ok {
			return nil, s.brokenErr()
		}
		return resp, nil
	case <-ctx.Done():
		s.unregister(req.Id)
		return nil, ctx.Err()
	}
}

// stream returns the open stream, opening one if needed.
func (c *dataClient) stream(ctx context.Context) (*dataStream, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrBackendUnavailable, ErrClosed)
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
		// The stream may have broken again since; registering on it then
		// fails with the reason, which is what the caller needs to hear.
		return op.s, op.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: opening the stream: %w", ErrBackendUnavailable, ctx.Err())
	}
}

func (c *dataClient) open(op *streamOpen) {
	ctx, cancel := context.WithCancel(c.ctx)
	gs, err := c.stub.Data(ctx)
	c.mu.Lock()
	defer func() {
		c.opening = nil
		close(op.done)
		c.mu.Unlock()
	}()
	switch {
	case c.closed:
		cancel()
		op.err = fmt.Errorf("%w: %w", ErrBackendUnavailable, ErrClosed)
	case err != nil:
		cancel()
		op.err = fmt.Errorf("%w: opening the stream: %v", ErrBackendUnavailable, err)
	default:
		op.s = &dataStream{gs: gs, cancel: cancel, pending: make(map[uint64]chan *pb.ClientResponse)}
		c.active = op.s
		go c.receive(op.s)
	}
}

// receive delivers replies until the stream ends.
func (c *dataClient) receive(s *dataStream) {
	for {
		resp, err := s.gs.Recv()
		if err != nil {
			c.fail(s, fmt.Errorf("%w: %v", ErrBackendBroken, err))
			return
		}
		s.mu.Lock()
		ch := s.pending[resp.GetId()]
		delete(s.pending, resp.GetId())
		s.mu.Unlock()
		if ch != nil {
			ch <- resp // capacity 1, single delivery: never blocks
		}
		// A reply nobody waits for belongs to a request whose caller gave
		// up; dropping it is all there is to do.
	}
}

// fail retires s: pending requests learn err, and the next request opens
// a new stream.
func (c *dataClient) fail(s *dataStream, err error) {
	s.mu.Lock()
	if s.broken == nil {
		s.broken = err
		for id, ch := range s.pending {
			close(ch)
			delete(s.pending, id)
		}
	}
	s.mu.Unlock()
	s.cancel()
	c.mu.Lock()
	if c.active == s {
		c.active = nil
	}
	c.mu.Unlock()
}

func (c *dataClient) close() {
	c.mu.Lock()
	c.closed = true
	s := c.active
	c.mu.Unlock()
	if s != nil {
		c.fail(s, fmt.Errorf("%w: %w", ErrBackendBroken, ErrClosed))
	}
	c.cancel()
}

func (s *dataStream) register(id uint64, ch chan *pb.ClientResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		// The stream died between lookup and registration; the request
		// was not sent.
		return fmt.Errorf("%w: %v", ErrBackendUnavailable, s.broken)
	}
	s.pending[id] = ch
	return nil
}

func (s *dataStream) unregister(id uint64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

func (s *dataStream) brokenErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// remainingMillis is the time left before ctx's deadline, as the replica's
// timeout_ms (0 = the server's default).
func remainingMillis(ctx context.Context) uint32 {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	ms := time.Until(d).Milliseconds()
	return uint32(min(max(ms, 1), math.MaxUint32))
}
