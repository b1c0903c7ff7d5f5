package pegasusserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// echoHandler answers get with the key as value and every other RPC with
// its zero result, so listener tests need no backend.
func echoHandler(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	if req.RPC == pegasusrpc.RPCGet {
		return pegasusrpc.CodeOK, &pegasusrpc.ReadResponse{Value: *req.Args.(*pegasusrpc.Blob)}
	}
	if r := zeroResult(req.RPC); r != nil {
		return pegasusrpc.CodeOK, r
	}
	return pegasusrpc.CodeHandlerNotFound, nil
}

// zeroResult is an empty result of the RPC's response type.
func zeroResult(rpc pegasusrpc.RPC) pegasusrpc.Value {
	switch rpc {
	case pegasusrpc.RPCQueryConfig:
		return &pegasusrpc.QueryCfgResponse{Err: pegasusrpc.CodeOK}
	case pegasusrpc.RPCPut, pegasusrpc.RPCMultiPut, pegasusrpc.RPCRemove:
		return &pegasusrpc.UpdateResponse{}
	case pegasusrpc.RPCMultiRemove:
		return &pegasusrpc.MultiRemoveResponse{}
	case pegasusrpc.RPCIncr:
		return &pegasusrpc.IncrResponse{}
	case pegasusrpc.RPCCheckAndSet:
		return &pegasusrpc.CheckAndSetResponse{}
	case pegasusrpc.RPCCheckAndMutate:
		return &pegasusrpc.CheckAndMutateResponse{}
	case pegasusrpc.RPCGet:
		return &pegasusrpc.ReadResponse{}
	case pegasusrpc.RPCMultiGet:
		return &pegasusrpc.MultiGetResponse{}
	case pegasusrpc.RPCBatchGet:
		return &pegasusrpc.BatchGetResponse{}
	case pegasusrpc.RPCSortkeyCount:
		return &pegasusrpc.CountResponse{}
	case pegasusrpc.RPCTTL:
		return &pegasusrpc.TTLResponse{}
	case pegasusrpc.RPCGetScanner, pegasusrpc.RPCScan:
		return &pegasusrpc.ScanResponse{}
	}
	return nil
}

// logBuffer collects a Listener's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func getRequest(c *testClient, key string) *pegasusrpc.Request {
	blob := pegasusrpc.Blob(key)
	return c.request(pegasusrpc.Gpid{AppID: 1}, 0, pegasusrpc.RPCGet, &blob)
}

func mustGetEcho(t *testing.T, c *testClient, key string) {
	t.Helper()
	resp, err := c.wait(c.send(getRequest(c, key)))
	if err != nil || !resp.Err.IsOK() || string(resp.Result.(*pegasusrpc.ReadResponse).Value) != key {
		t.Fatalf("get %q: %v %v %+v", key, err, resp.Err, resp.Result)
	}
}

// A frame that breaks the framing closes that connection, with one log
// line naming the peer; other connections carry on.
func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"bad magic", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat(" ", 40))},
		{"bad header version", append([]byte("THFT"), make([]byte, 44)...)},
		{"body over the limit", func() []byte {
			h := make([]byte, 48)
			copy(h, "THFT")
			binary.BigEndian.PutUint32(h[8:], 48)
			binary.BigEndian.PutUint32(h[16:], 1<<20)
			return h
		}()},
		{"unreadable message header", func() []byte {
			h := make([]byte, 48, 52)
			copy(h, "THFT")
			binary.BigEndian.PutUint32(h[8:], 48)
			binary.BigEndian.PutUint32(h[16:], 4)
			return append(h, 0x12, 0x34, 0x56, 0x78)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			addr := serveListener(t, HandlerFunc(echoHandler), Config{MaxBodySize: 64 << 10, Logger: logs.logger()})
			good, bad := dialTestClient(t, addr), dialTestClient(t, addr)
			mustGetEcho(t, good, "before")
			bad.writeRaw(tc.bytes)
			if err := bad.waitClosed(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			mustGetEcho(t, good, "after")
			lines := logs.lines()
			if len(lines) != 1 || !strings.Contains(lines[0], "remote=127.0.0.1:") || !strings.Contains(lines[0], "err=") {
				t.Fatalf("log lines: %q", lines)
			}
		})
	}
}

// A body that does not decode, or names an RPC we do not serve, is
// answered with an error code and the connection carries on.
func TestUndecodableRequestsAreAnswered(t *testing.T) {
	c := dialTestClient(t, serveListener(t, HandlerFunc(echoHandler), Config{}))

	// An unknown RPC name (an admin RPC) is ERR_HANDLER_NOT_FOUND.
	frame := rawRequestFrame(t, "RPC_CM_LIST_APPS", 41, []byte{0})
	ch := c.expect(41)
	c.writeRaw(frame)
	if resp, err := c.wait(ch); err != nil || resp.Err != pegasusrpc.CodeHandlerNotFound {
		t.Fatalf("unknown rpc: %v %v", resp.Err, err)
	}
	// A known RPC whose argument is malformed (a blob claiming more bytes
	// than the frame holds) is ERR_INVALID_DATA.
	frame = rawRequestFrame(t, "RPC_RRDB_RRDB_GET", 42, []byte{12, 0, 1, 0x7f, 0, 0, 0})
	ch = c.expect(42)
	c.writeRaw(frame)
	if resp, err := c.wait(ch); err != nil || resp.Err != pegasusrpc.CodeInvalidData {
		t.Fatalf("malformed args: %v %v", resp.Err, err)
	}
	mustGetEcho(t, c, "still here")
}

// expect registers a waiter for a response to a request written raw.
func (c *testClient) expect(seqID int32) <-chan pegasusrpc.Response {
	ch := make(chan pegasusrpc.Response, 1)
	c.mu.Lock()
	c.pending[seqID] = ch
	c.mu.Unlock()
	return ch
}

// rawRequestFrame is a v0 request frame with the given name, sequence id
// and args bytes (after the message header).
func rawRequestFrame(t *testing.T, name string, seqID int32, args []byte) []byte {
	t.Helper()
	body := pegasusrpc.AppendMessageBegin(nil, pegasusrpc.MessageHeader{Name: name, Type: pegasusrpc.MessageCall, SeqID: seqID})
	body = append(body, args...)
	return pegasusrpc.AppendRequestFrame(nil, pegasusrpc.RequestFrame{Header: pegasusrpc.RequestHeader{ClientTimeout: 1000}, Body: body})
}

// One-way messages are executed and never answered, whatever their name.
func TestOnewayIsNeverAnswered(t *testing.T) {
	var cleared atomic.Int64
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		if id, ok := req.Args.(*pegasusrpc.ScanContextID); ok {
			cleared.Store(int64(*id))
		}
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{}))
	id := pegasusrpc.ScanContextID(77)
	c.sendOneway(c.request(pegasusrpc.Gpid{AppID: 1}, 0, pegasusrpc.RPCClearScanner, &id))
	oneway := getRequest(c, "oneway get")
	oneway.Type = pegasusrpc.MessageOneway
	c.sendOneway(oneway)
	mustGetEcho(t, c, "x")
	for deadline := time.Now().Add(10 * time.Second); cleared.Load() != 77; {
		if time.Now().After(deadline) {
			t.Fatal("clear_scanner did not reach the handler")
		}
		time.Sleep(time.Millisecond)
	}
	mustGetEcho(t, c, "y")
	if s := c.strays(); len(s) != 0 {
		t.Fatalf("one-way messages were answered: %+v", s)
	}
}

// Responses go out as requests complete, not in request order.
func TestResponsesOutOfOrder(t *testing.T) {
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		if string(*req.Args.(*pegasusrpc.Blob)) == "slow" {
			<-release
		}
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{}))
	slow := c.send(getRequest(c, "slow"))
	mustGetEcho(t, c, "fast")
	close(release)
	if resp, err := c.wait(slow); err != nil || string(resp.Result.(*pegasusrpc.ReadResponse).Value) != "slow" {
		t.Fatalf("slow request: %v %+v", err, resp)
	}
}

// At most MaxInFlight requests of a connection execute at once. Handlers
// are released one at a time; after each release the running count must
// settle back at the bound (3, or what is left). A leaky bound lets a
// fourth start and stay blocked, so the count would never read 3 again and
// the wait fails, with no sleep needed to give a fourth room to start.
func TestInFlightBound(t *testing.T) {
	const bound, requests = 3, 10
	var running, peak atomic.Int32
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{MaxInFlight: bound}))
	// On failure, the handlers still blocked must return for the listener
	// to close.
	defer close(release)
	var chans []<-chan pegasusrpc.Response
	for range requests {
		chans = append(chans, c.send(getRequest(c, "k")))
	}
	for left := requests; left > 0; left-- {
		want := int32(min(bound, left))
		for deadline := time.Now().Add(10 * time.Second); running.Load() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests running with %d left, want %d (peak %d, bound %d)", running.Load(), left, want, peak.Load(), bound)
			}
			time.Sleep(time.Millisecond)
		}
		release <- struct{}{}
	}
	for _, ch := range chans {
		if _, err := c.wait(ch); err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p != bound {
		t.Fatalf("%d requests executed at once, bound %d", p, bound)
	}
}

// A client that half-closes after its requests still gets the answers.
func TestHalfCloseGetsAnswers(t *testing.T) {
	addr := serveListener(t, HandlerFunc(echoHandler), Config{})
	c := dialTestClient(t, addr)
	var chans []<-chan pegasusrpc.Response
	for range 20 {
		chans = append(chans, c.send(getRequest(c, "k")))
	}
	c.conn.(*net.TCPConn).CloseWrite()
	for _, ch := range chans {
		if resp, err := c.wait(ch); err != nil || !resp.Err.IsOK() {
			t.Fatalf("answer after half-close: %v %v", resp.Err, err)
		}
	}
	if err := c.waitClosed(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// Close cancels the requests in progress and returns once they are done.
func TestCloseCancelsRequests(t *testing.T) {
	started := make(chan struct{})
	var sawCancel atomic.Bool
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		close(started)
		<-ctx.Done()
		sawCancel.Store(errors.Is(ctx.Err(), context.Canceled))
		return pegasusrpc.CodeTimeout, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(h, Config{DefaultTimeout: time.Hour})
	served := make(chan error, 1)
	go func() { served <- l.Serve(ln) }()
	c := dialTestClient(t, ln.Addr().String())
	req := getRequest(c, "k")
	req.Header.ClientTimeout = 0 // the default, an hour
	c.send(req)
	<-started
	l.Close()
	if !sawCancel.Load() {
		t.Fatal("the request's context was not canceled by Close")
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve returned %v, want ErrClosed", err)
	}
	if err := c.waitClosed(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

// A handler that panics or produces a response the clients cannot read
// fails that request with ERR_UNKNOWN; the connection carries on.
func TestHandlerFaultsFailOneRequest(t *testing.T) {
	var logs logBuffer
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		switch string(*req.Args.(*pegasusrpc.Blob)) {
		case "panic":
			panic("handler bug")
		case "wrong type":
			return pegasusrpc.CodeOK, &pegasusrpc.TTLResponse{}
		case "unknown code":
			return pegasusrpc.ErrorCode("ERR_RDB_CORRUPTION"), nil
		}
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{Logger: logs.logger()}))
	for _, key := range []string{"panic", "wrong type", "unknown code"} {
		resp, err := c.wait(c.send(getRequest(c, key)))
		if err != nil || resp.Err != pegasusrpc.CodeUnknown {
			t.Fatalf("%s: %v %v", key, resp.Err, err)
		}
	}
	mustGetEcho(t, c, "fine")
	if n := len(logs.lines()); n != 3 {
		t.Fatalf("%d log lines for 3 handler faults: %q", n, logs.lines())
	}
}

// The Java client's v1 headers are served the same way.
func TestV1Header(t *testing.T) {
	var got pegasusrpc.RequestHeader
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		got = req.Header
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{}))
	req := getRequest(c, "java")
	req.Header = pegasusrpc.RequestHeader{Version: pegasusrpc.HeaderVersion1, Gpid: pegasusrpc.Gpid{AppID: 4, PartitionIndex: 2}, ClientTimeout: 800, PartitionHash: 0xabc, IsBackupRequest: true}
	resp, err := c.wait(c.send(req))
	if err != nil || string(resp.Result.(*pegasusrpc.ReadResponse).Value) != "java" {
		t.Fatalf("v1 get: %v %+v", err, resp)
	}
	if got.Gpid != req.Header.Gpid || got.PartitionHash != 0xabc || got.ClientTimeout != 800 || !got.IsBackupRequest {
		t.Fatalf("handler saw header %+v", got)
	}
}

// A client timeout longer than the server's default extends the request's
// deadline.
func TestRequestDeadline(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		d, ok := ctx.Deadline()
		left := time.Until(d)
		if !ok || left <= 30*time.Second || left > 42*time.Second {
			return pegasusrpc.CodeInvalidParameters, nil
		}
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{}))
	req := getRequest(c, "k")
	req.Header.ClientTimeout = 42_000 // far from the 5 s default, so that the two cannot be confused
	if resp, err := c.wait(c.send(req)); err != nil || !resp.Err.IsOK() {
		t.Fatalf("deadline not taken from client_timeout: %v %v", resp.Err, err)
	}
}

// A short client timeout does not cut execution short: Pegasus' server
// executes a request whatever its header's timeout says (the Go client
// fills it with junk when the caller's context has no deadline), unless
// rpc_request_dropped_before_execution_when_timeout is set.
func TestShortClientTimeoutDoesNotCancel(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		d, ok := ctx.Deadline()
		if !ok || time.Until(d) < 4*time.Second {
			return pegasusrpc.CodeTimeout, nil
		}
		return echoHandler(ctx, req)
	})
	c := dialTestClient(t, serveListener(t, h, Config{}))
	for _, ms := range []uint32{1, 3, 500} {
		req := getRequest(c, "k")
		req.Header.ClientTimeout = ms
		if resp, err := c.wait(c.send(req)); err != nil || !resp.Err.IsOK() {
			t.Fatalf("client_timeout %d ms: %v %v", ms, resp.Err, err)
		}
	}
}

// With DropTimedOutRequests a request whose client timeout passed while
// it waited for an execution slot is dropped unanswered, as Pegasus'
// rpc_request_dropped_before_execution_when_timeout does; one still in
// time executes.
func TestDropTimedOutRequests(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	started := make(chan string, 4)
	h := HandlerFunc(func(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
		key := string(*req.Args.(*pegasusrpc.Blob))
		started <- key
		if strings.HasSuffix(key, "block") {
			<-release
		}
		return echoHandler(ctx, req)
	})
	// Each frame read asks the clock once: reads tells the test which
	// frames the listener has received.
	reads := make(chan struct{}, 16)
	now := func() time.Time {
		reads <- struct{}{}
		return clock.Now()
	}
	c := dialTestClient(t, serveListener(t, h, Config{MaxInFlight: 1, DropTimedOutRequests: true, Now: now}))
	first := c.send(getRequest(c, "block"))
	if k := <-started; !strings.HasSuffix(k, "block") {
		t.Fatalf("first handler saw %q", k)
	}
	late := getRequest(c, "late")
	late.Header.ClientTimeout = 100
	lateCh := c.send(late)
	inTime := getRequest(c, "in-time")
	inTime.Header.ClientTimeout = 60_000
	inTimeCh := c.send(inTime)
	// The reader asks the clock when it reads a frame and when the frame
	// gets its slot: three reads mean "block" runs and "late" has been
	// received; then "late"'s time passes while it waits for the slot.
	for range 3 {
		<-reads
	}
	clock.Advance(time.Second)
	close(release)
	if _, err := c.wait(first); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.wait(inTimeCh); err != nil || !resp.Err.IsOK() {
		t.Fatalf("request still in time: %v %v", resp.Err, err)
	}
	select {
	case resp := <-lateCh:
		t.Fatalf("late request answered: %+v", resp)
	default:
	}
	for len(started) > 0 {
		if k := <-started; strings.HasSuffix(k, "late") {
			t.Fatal("late request executed")
		}
	}
}

var _ io.Closer = (*Server)(nil)
