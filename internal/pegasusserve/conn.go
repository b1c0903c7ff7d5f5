package pegasusserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// serverConn is one client connection of a Listener.
//
// Life of a connection:
//
//  1. The reader decodes frames in order and starts one goroutine per
//     request, after taking one of MaxInFlight slots; while none is free it
//     stops reading, so a client that pipelines faster than the server
//     executes is held back by TCP flow control instead of by our memory.
//  2. Each request goroutine runs the Handler and queues the encoded
//     response for the writer. The writer batches whatever is queued into
//     one flush.
//  3. When reading ends (the peer closed its side, or a frame broke the
//     framing), the requests already read are still executed and answered:
//     a client that half-closes after its last request gets its answers.
//     Then the writer drains and the socket is closed.
//  4. Listener.Close short-cuts this: it closes the socket and cancels the
//     request contexts, so everything above returns promptly.
type serverConn struct {
	l  *Listener
	nc net.Conn

	// slots holds one token per executing request (the in-flight bound).
	slots chan struct{}
	// out carries encoded responses to the writer. It is closed only after
	// every request goroutine has returned, so sends never hit a closed
	// channel, and the writer keeps draining it even after a write error,
	// so sends never block forever.
	out      chan []byte
	requests sync.WaitGroup

	abortOnce sync.Once
	aborted   chan struct{}
	// ctx ends when the connection is aborted or the Listener closes: a
	// reader waiting for budget gives up then.
	ctx    context.Context
	cancel context.CancelFunc
	// closedHere is set when this side closed the socket (Close, or a
	// failed write), so that the reader's resulting error is not reported
	// as bad input from the peer.
	closedHere atomic.Bool
}

func newServerConn(l *Listener, nc net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(l.ctx)
	return &serverConn{
		ctx:     ctx,
		cancel:  cancel,
		l:       l,
		nc:      nc,
		slots:   make(chan struct{}, l.cfg.MaxInFlight),
		out:     make(chan []byte, l.cfg.MaxInFlight),
		aborted: make(chan struct{}),
	}
}

// abort closes the socket under the reader and writer; used by Close.
func (c *serverConn) abort() {
	c.abortOnce.Do(func() {
		c.cancel()
		close(c.aborted)
		c.closedHere.Store(true)
		c.nc.Close()
	})
}

func (c *serverConn) serve() {
	defer c.cancel()
	writerDone := make(chan struct{})
	go c.writeLoop(writerDone)

	err := c.readLoop()
	if err != nil && !errors.Is(err, io.EOF) && !c.closedHere.Load() {
		// One line per connection, whatever was wrong with it: the bytes
		// of a broken stream cannot be re-synchronised, so nothing after
		// the first error is worth reporting.
		c.l.cfg.Logger.Warn("pegasus: closing connection after bad input",
			"remote", remoteAddr(c.nc), "err", err)
	}

	c.requests.Wait()
	close(c.out)
	<-writerDone
	c.nc.Close()
}

// readLoop reads and dispatches frames until the stream ends or breaks.
// io.EOF means the peer closed cleanly between two frames.
func (c *serverConn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		frame, release, err := pegasusrpc.ReadRequestFrameReserve(br, c.l.cfg.MaxBodySize, c.reserve)
		if err != nil {
			return err
		}
		// The frame is in: the next one's header may take its time.
		_ = c.nc.SetReadDeadline(time.Time{})
		req, decodeErr := pegasusrpc.DecodeRequest(frame)
		if decodeErr != nil && req.RPC == pegasusrpc.RPCInvalid && !errors.Is(decodeErr, pegasusrpc.ErrUnknownRPC) {
			// Not even the message header decoded: there is no sequence
			// id to answer under, and a client waiting on one would wait
			// until its deadline. Closing tells it at once.
			release()
			return fmt.Errorf("%w: %w", ErrUnreadableMessage, decodeErr)
		}
		// A message sent as one-way expects no answer, whatever its name;
		// clear_scanner must not be answered even though both clients
		// send it as a call.
		oneway := req.Type == pegasusrpc.MessageOneway || req.RPC.Oneway()
		if oneway && decodeErr != nil {
			release()
			continue // nothing to execute, nobody to tell
		}
		var received time.Time
		if c.l.cfg.DropTimedOutRequests {
			received = c.l.cfg.Now()
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.aborted:
			release()
			return nil
		}
		if c.l.cfg.DropTimedOutRequests && c.expired(&req, received) {
			release()
			<-c.slots
			continue
		}
		c.requests.Add(1)
		go c.execute(req, decodeErr, oneway, release)
	}
}

// reserve runs once a frame's header is read: the rest of the frame must
// arrive within BodyTimeout (a client trickling a large body would
// otherwise hold its share of the budget for good), and its bytes are
// taken from the server's budget before they are buffered.
func (c *serverConn) reserve(n int) (func(), error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.l.cfg.BodyTimeout))
	if c.l.cfg.Budget == nil {
		return func() {}, nil
	}
	return c.l.cfg.Budget.Reserve(c.ctx, n)
}

// expired reports whether req's client timeout has passed since it was
// received. The client has given up on it by now; Pegasus drops such a
// request without an answer, and so do we.
func (c *serverConn) expired(req *pegasusrpc.Request, received time.Time) bool {
	ms := req.Header.ClientTimeout
	if ms <= 0 {
		return false
	}
	if c.l.cfg.Now().Sub(received) < time.Duration(ms)*time.Millisecond {
		return false
	}
	c.l.cfg.Logger.Debug("pegasus: dropped a request whose client timeout passed before execution",
		"rpc", req.Name, "client_timeout_ms", ms, "remote", remoteAddr(c.nc))
	return true
}

// execute runs one request and queues its response; release gives the
// request's bytes back to the budget.
func (c *serverConn) execute(req pegasusrpc.Request, decodeErr error, oneway bool, release func()) {
	defer func() {
		release()
		<-c.slots
		c.requests.Done()
	}()
	var code pegasusrpc.ErrorCode
	var result pegasusrpc.Value
	switch {
	case errors.Is(decodeErr, pegasusrpc.ErrUnknownRPC):
		// What the C++ server answers for an RPC it has no handler for;
		// the connection stays usable.
		code = pegasusrpc.CodeHandlerNotFound
	case decodeErr != nil:
		code = pegasusrpc.CodeInvalidData
	default:
		code, result = c.run(&req)
	}
	if oneway {
		return
	}
	b, err := req.AppendReply(nil, code, result)
	if err != nil {
		// The handler produced something the clients cannot read (a
		// mistyped result or an unknown code). Sending it would kill the
		// client's whole session; ERR_UNKNOWN fails this call alone.
		c.l.cfg.Logger.Error("pegasus: handler produced an invalid response",
			"rpc", req.Name, "code", string(code), "err", err)
		b, _ = req.AppendReply(nil, pegasusrpc.CodeUnknown, nil)
	}
	c.out <- b
}

// run calls the handler under the request's deadline: the server's
// default, or the client's timeout when it is longer (see
// Config.DefaultTimeout for why a shorter one is not used). A panic in the
// handler fails this request with ERR_UNKNOWN rather than the process: the
// listener faces the network, and one bad request must not take every
// other client down with it.
func (c *serverConn) run(req *pegasusrpc.Request) (code pegasusrpc.ErrorCode, result pegasusrpc.Value) {
	timeout := max(c.l.cfg.DefaultTimeout, time.Duration(req.Header.ClientTimeout)*time.Millisecond)
	ctx, cancel := context.WithTimeout(c.l.ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			c.l.cfg.Logger.Error("pegasus: handler panicked", "rpc", req.Name, "panic", p, "stack", string(debug.Stack()))
			code, result = pegasusrpc.CodeUnknown, nil
		}
	}()
	return c.l.h.Serve(ctx, req)
}

// writeLoop sends queued responses, flushing whenever the queue runs dry
// so that pipelined responses share system calls. After a write error it
// keeps draining the queue, discarding, until serve closes it.
func (c *serverConn) writeLoop(done chan<- struct{}) {
	defer close(done)
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var werr error
	for b := range c.out {
		if werr != nil {
			continue
		}
		if _, werr = bw.Write(b); werr == nil && len(c.out) == 0 {
			werr = bw.Flush()
		}
		if werr != nil {
			// The peer is gone: stop the reader too, rather than execute
			// requests whose answers cannot be delivered.
			c.closedHere.Store(true)
			c.nc.Close()
		}
	}
	if werr == nil {
		bw.Flush()
	}
}

func remoteAddr(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil {
		return a.String()
	}
	return "unknown"
}
