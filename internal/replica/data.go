package replica

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/appenv"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The client data path: ReplicaClient.Data, one bidirectional stream per
// client connection carrying many requests, answered in any order.
//
// The stream's goroutine decodes each request and routes it. A write is
// checked and encoded there (so bad input is refused before anything is
// logged) and queued to its partition, whose goroutine proposes it and
// answers once it is applied. A read runs on a goroutine of its own, up to
// maxReadsPerStream at once per stream, straight against the store. Every
// answer goes through the stream's single writer goroutine, as a gRPC stream
// allows one sender at a time.

const (
	// defaultRequestTimeout applies when a request carries no timeout_ms.
	defaultRequestTimeout = 10 * time.Second
	// maxReadsPerStream bounds the reads one stream runs at once; more wait
	// in the stream (and so in the client's flow control).
	maxReadsPerStream = 64
)

// serveData serves one ReplicaClient.Data stream.
func (s *Server) serveData(stream pb.ReplicaClient_DataServer) error {
	out := newResponseWriter(stream)
	defer out.stop()
	reads := make(chan struct{}, maxReadsPerStream)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			// The client will send nothing more but may still wait for
			// answers to what it sent.
			out.drain()
			return nil
		}
		if err != nil {
			return nil // the client went away; nothing to tell it
		}
		s.serveRequest(req, out, reads)
	}
}

// serveRequest routes one request; its answer reaches out later.
func (s *Server) serveRequest(req *pb.ClientRequest, out *responseWriter, reads chan struct{}) {
	out.begin()
	send := s.instrumentReply(req, out.send)
	fail := func(err error) { send(&pb.ClientResponse{Id: req.GetId(), Error: wireError(err)}) }
	g, err := gpidFromPB(req.GetGpid())
	if err != nil {
		fail(err)
		return
	}
	p := s.partition(g)
	switch {
	case p == nil:
		fail(errorf(ErrNotHosted, "%s on %s", g, s.node))
		return
	case req.GetPartitionHash()%uint64(p.partitionCount) != uint64(g.index):
		fail(errorf(ErrWrongPartition, "hash %#x maps to partition %d of %d, not %d",
			req.GetPartitionHash(), req.GetPartitionHash()%uint64(p.partitionCount), p.partitionCount, g.index))
		return
	case req.GetOp() == nil:
		fail(errorf(ErrInvalidRequest, "request %d carries no operation", req.GetId()))
		return
	}
	timeout := defaultRequestTimeout
	if ms := req.GetTimeoutMs(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	env := s.tableEnv(g.app)

	if kind, op, ok := writeOf(req); ok {
		if env.DenyWrite {
			s.deny(env, deadline, fail)
			return
		}
		// A write starts no later than the clients' retry window allows:
		// request records outlive that window (rpc.MinWriteDedupRetention),
		// not an arbitrary deadline a caller sent.
		deadline = time.Now().Add(min(timeout, rpc.MaxWriteRetryWindow))
		data, err := encodeWrite(p.store.Load(), withDefaultTTL(op, env.DefaultTTLSeconds))
		if err != nil {
			fail(err)
			return
		}
		w := &pendingWrite{
			id:       req.GetId(),
			rid:      requestID(req.GetRequestId()),
			kind:     kind,
			data:     data,
			deadline: deadline,
			reply:    send,
		}
		post := func() {
			if err := p.post(event{kind: evWrite, write: w}); err != nil {
				w.fail(err)
			}
		}
		switch decision, wait := p.throttle.control(env, p.partitionCount, len(data), timeout); decision {
		case appenv.Delay:
			time.AfterFunc(wait, post)
		case appenv.Reject:
			time.AfterFunc(wait, func() { w.fail(errorf(ErrThrottled, "write of table over its write throttling")) })
		default:
			post()
		}
		return
	}
	if env.DenyRead {
		s.deny(env, deadline, fail)
		return
	}
	reads <- struct{}{}
	go func() {
		defer func() { <-reads }()
		send(s.read(p, req, deadline))
	}()
}

// deny refuses a request of a table whose replica.deny_client_request
// covers it.
func (s *Server) deny(env *tableEnv, deadline time.Time, fail func(error)) {
	if env.Reconfig {
		fail(errorf(ErrDenied, "table denies client requests (%s)", appenv.DenyClientRequest))
		return
	}
	denyUntilDeadline(deadline, fail)
}

// responseWriter is a stream's single sender. Answers are queued by any
// goroutine and sent in queue order; each pass sends everything queued, so
// answers produced together leave together.
type responseWriter struct {
	stream  pb.ReplicaClient_DataServer
	mu      sync.Mutex
	queue   []*pb.ClientResponse
	stopped bool
	signal  chan struct{}
	quit    chan struct{}
	done    chan struct{}
	// pending counts requests begun and not yet answered, for drain.
	pending sync.WaitGroup
}

func newResponseWriter(stream pb.ReplicaClient_DataServer) *responseWriter {
	w := &responseWriter{
		stream: stream,
		signal: make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

// begin notes a request whose answer will be sent.
func (w *responseWriter) begin() { w.pending.Add(1) }

// send queues an answer. After stop it is dropped: the stream is gone.
func (w *responseWriter) send(resp *pb.ClientResponse) {
	w.mu.Lock()
	if !w.stopped {
		w.queue = append(w.queue, resp)
	}
	w.mu.Unlock()
	w.pending.Done()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *responseWriter) run() {
	defer close(w.done)
	var batch []*pb.ClientResponse
	for {
		select {
		case <-w.signal:
		case <-w.quit:
			return
		}
		w.mu.Lock()
		batch, w.queue = w.queue, batch[:0]
		w.mu.Unlock()
		for i, resp := range batch {
			if err := w.stream.Send(resp); err != nil {
				w.mu.Lock()
				w.stopped = true
				w.queue = nil
				w.mu.Unlock()
				return
			}
			batch[i] = nil
		}
	}
}

// drain waits until every begun request was answered and sent, or the
// stream ends.
func (w *responseWriter) drain() {
	answered := make(chan struct{})
	go func() { w.pending.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-w.stream.Context().Done():
		return
	}
	for {
		w.mu.Lock()
		empty := len(w.queue) == 0 || w.stopped
		w.mu.Unlock()
		if empty {
			return
		}
		select {
		case <-w.done:
			return
		case <-w.stream.Context().Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// stop ends the writer; answers queued later are dropped.
func (w *responseWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.queue = nil
	w.mu.Unlock()
	close(w.quit)
	<-w.done
}
