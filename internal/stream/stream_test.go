package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestConcurrentRoundTripsShareOneStream: 32 callers at once while the
// server answers each request after a random delay, so replies come back
// out of order. Every caller gets its own reply, on one stream.
func TestConcurrentRoundTripsShareOneStream(t *testing.T) {
	const callers, each = 32, 50
	f, addr := newFakeServer(t)
	f.setAction(func(*pb.ClientRequest) action {
		return action{delay: time.Duration(rand.IntN(2000)) * time.Microsecond}
	})
	c := newConn(t, addr)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				want := fmt.Sprintf("%d/%d", g, i)
				resp, err := c.RoundTrip(ctx, get(want))
				if err != nil || string(resp.GetGet().GetValue()) != want {
					errs <- fmt.Errorf("caller %d: got %q, %v; want %q", g, resp.GetGet().GetValue(), err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := f.streams.Load(); n != 1 {
		t.Fatalf("%d streams, want 1", n)
	}
	if f.outOfOrder.Load() == 0 {
		t.Fatal("no reply was sent out of order; the test did not exercise reply matching")
	}
	ids := make(map[uint64]bool)
	for _, req := range f.requests() {
		if ids[req.Id] {
			t.Fatalf("request id %d used twice on one stream", req.Id)
		}
		ids[req.Id] = true
	}
}

// TestBreakFailsPendingAsSent: the stream breaks with requests in flight.
// Every one of them fails at once, marked sent (a write among them has an
// unknown outcome), with the stream's error; the next request opens a new
// stream and succeeds.
func TestBreakFailsPendingAsSent(t *testing.T) {
	const inFlight = 5
	f, addr := newFakeServer(t)
	f.setAction(func(*pb.ClientRequest) action { return action{swallow: true} })
	c := newConn(t, addr)
	ctx := testCtx(t)
	ids := newWriteIDs(t)
	errs := make(chan error, inFlight)
	for i := range inFlight {
		req := get("r")
		if i%2 == 0 {
			req = set("w", ids.Next())
		}
		go func() {
			_, err := c.RoundTrip(ctx, req)
			errs <- err
		}()
	}
	waitFor(t, "the server holds every request", func() bool { return len(f.requests()) == inFlight })
	f.breakStream(t)
	for range inFlight {
		err := <-errs
		var se *Error
		if !errors.As(err, &se) || !se.Sent || status.Code(se.Err) != codes.Unavailable || se.Addr != addr {
			t.Fatalf("pending request on a broken stream: %v, want an *Error, sent, with the stream's Unavailable", err)
		}
	}

	f.setAction(nil)
	resp, err := c.RoundTrip(ctx, get("again"))
	if err != nil || string(resp.GetGet().GetValue()) != "again" {
		t.Fatalf("request after the break: %v %v", resp, err)
	}
	if n := f.streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2: the broken one and its replacement", n)
	}
}

// TestQueuedRequestIsNotSent: a request registered on a stream but not yet
// handed to gRPC is reported unsent, whether its caller gives up or the
// stream breaks, and the sender can no longer send it.
func TestQueuedRequestIsNotSent(t *testing.T) {
	_, addr := newFakeServer(t)
	c := newConn(t, addr)
	ctx := testCtx(t)
	if _, err := c.RoundTrip(ctx, get("open")); err != nil {
		t.Fatal(err)
	}
	s, err := c.stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	register := func(id uint64) *call {
		cl := &call{id: id, done: make(chan result, 1)}
		s.mu.Lock()
		s.pending[cl.id] = cl
		s.mu.Unlock()
		return cl
	}

	abandoned := register(1 << 40)
	if s.abandon(abandoned) {
		t.Fatal("a call abandoned while queued is reported as sent")
	}
	if abandoned.state.CompareAndSwap(callQueued, callSent) {
		t.Fatal("the sender could still send an abandoned call")
	}
	if _, err := c.RoundTrip(ctx, get("unharmed")); err != nil {
		t.Fatalf("the stream after an abandoned call: %v", err)
	}

	queued := register(1<<40 + 1)
	s.fail(status.Error(codes.Unavailable, "test: broken"))
	res := <-queued.done
	var se *Error
	if !errors.As(res.err, &se) || se.Sent {
		t.Fatalf("a queued call on a broken stream: %v, want an *Error not sent", res.err)
	}
}

// TestDeadline: a request the server does not answer in time fails when
// its context ends, marked sent; its late reply is dropped and the stream
// goes on serving.
func TestDeadline(t *testing.T) {
	f, addr := newFakeServer(t)
	release := make(chan struct{})
	f.setAction(func(req *pb.ClientRequest) action {
		if string(req.GetGet().GetHashKey()) == "slow" {
			return action{hold: release}
		}
		return action{}
	})
	c := newConn(t, addr)
	ctx := testCtx(t)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.RoundTrip(short, get("slow"))
	var se *Error
	if !errors.As(err, &se) || !se.Sent || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered request: %v, want DeadlineExceeded, sent", err)
	}
	close(release) // the late reply, which nobody waits for
	for i := range 3 {
		want := fmt.Sprint(i)
		resp, err := c.RoundTrip(ctx, get(want))
		if err != nil || string(resp.GetGet().GetValue()) != want {
			t.Fatalf("request after a late reply: %v %v", resp, err)
		}
	}
	if n := f.streams.Load(); n != 1 {
		t.Fatalf("%d streams: the deadline or the late reply disturbed the stream", n)
	}

	// A context that ended before the request was queued: never sent.
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	_, err = c.RoundTrip(done, get("never"))
	if !errors.As(err, &se) || se.Sent || !errors.Is(err, context.Canceled) {
		t.Fatalf("request with an ended context: %v, want Canceled, not sent", err)
	}
}

// TestOversizeRequestRefusedAlone: a request over the message limit is
// refused before it is sent, and a request in flight on the same stream is
// answered as if nothing happened.
func TestOversizeRequestRefusedAlone(t *testing.T) {
	f, addr := newFakeServer(t)
	release := make(chan struct{})
	f.setAction(func(*pb.ClientRequest) action { return action{hold: release} })
	c := newConn(t, addr)
	ctx := testCtx(t)
	answered := make(chan error, 1)
	go func() {
		resp, err := c.RoundTrip(ctx, get("pending"))
		if err == nil && string(resp.GetGet().GetValue()) != "pending" {
			err = fmt.Errorf("reply %v", resp)
		}
		answered <- err
	}()
	waitFor(t, "the server holds the first request", func() bool { return len(f.requests()) == 1 })

	huge := &pb.ClientRequest{Op: &pb.ClientRequest_Set{Set: &pb.SetRequest{HashKey: []byte("h"), Value: make([]byte, rpc.MaxMessageSize)}}}
	_, err := c.RoundTrip(ctx, huge)
	var se *Error
	if !errors.As(err, &se) || se.Sent || !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("oversized request: %v, want ErrInvalidRequest, not sent", err)
	}
	close(release)
	if err := <-answered; err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	if n, m := f.streams.Load(), len(f.requests()); n != 1 || m != 1 {
		t.Fatalf("%d streams, %d requests received; want 1 and 1", n, m)
	}
}

// TestUnreachableServer: a server nobody listens at fails requests, a
// write included, as unsent: they had no effect.
func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	c := newConn(t, dead)
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	_, err = c.RoundTrip(ctx, set("w", &pb.RequestID{ClientId: 1, Seq: 1}))
	var se *Error
	if !errors.As(err, &se) || se.Sent {
		t.Fatalf("request to an unreachable server: %v, want an *Error not sent", err)
	}
}

// TestClose: Close fails a request in flight with ErrClosed, marked sent,
// and every request after it, unsent.
func TestClose(t *testing.T) {
	f, addr := newFakeServer(t)
	f.setAction(func(*pb.ClientRequest) action { return action{swallow: true} })
	c := newConn(t, addr)
	ctx := testCtx(t)
	errs := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(ctx, set("w", &pb.RequestID{ClientId: 1, Seq: 1}))
		errs <- err
	}()
	waitFor(t, "the server holds the request", func() bool { return len(f.requests()) == 1 })
	c.Close()
	var se *Error
	if err := <-errs; !errors.As(err, &se) || !se.Sent || !errors.Is(err, ErrClosed) {
		t.Fatalf("request in flight at Close: %v, want ErrClosed, sent", err)
	}
	if _, err := c.RoundTrip(ctx, get("after")); !errors.As(err, &se) || se.Sent || !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: %v, want ErrClosed, not sent", err)
	}
}

// TestWriteSendsAreNumbered: a write keeps its RequestID across sends and
// each send carries the next attempt number, from 1; a read carries no
// RequestID.
func TestWriteSendsAreNumbered(t *testing.T) {
	f, addr := newFakeServer(t)
	c := newConn(t, addr)
	ctx := testCtx(t)
	ids := newWriteIDs(t)
	rid := ids.Next()
	for range 3 {
		if _, err := c.RoundTrip(ctx, set("w", rid)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RoundTrip(ctx, get("r")); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	for i, req := range reqs[:3] {
		got := req.GetRequestId()
		if got.GetClientId() != rid.ClientId || got.GetSeq() != rid.Seq || got.GetAttempt() != uint32(i+1) {
			t.Fatalf("send %d carried %v, want %v with attempt %d", i+1, got, rid, i+1)
		}
	}
	if reqs[3].GetRequestId() != nil {
		t.Fatalf("a read carried %v", reqs[3].GetRequestId())
	}
	if next := ids.Next(); next.ClientId != rid.ClientId || next.Seq != rid.Seq+1 {
		t.Fatalf("next write id %v after %v", next, rid)
	}
	if other := newWriteIDs(t).Next(); other.ClientId == rid.ClientId {
		t.Fatal("two writers share a client id")
	}
}

func TestRemainingMillis(t *testing.T) {
	if got := RemainingMillis(context.Background()); got != 0 {
		t.Fatalf("without a deadline: %d, want 0", got)
	}
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if got := RemainingMillis(past); got != 1 {
		t.Fatalf("past the deadline: %d, want 1", got)
	}
	soon, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got := RemainingMillis(soon); got < 4000 || got > 5000 {
		t.Fatalf("5 s before the deadline: %d", got)
	}
}

func newWriteIDs(t testing.TB) *WriteIDs {
	t.Helper()
	ids, err := NewWriteIDs()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
