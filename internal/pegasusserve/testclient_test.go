package pegasusserve

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// testClient speaks the wire protocol as pegasus-wire.md describes the
// official Go client: one TCP connection, requests pipelined with v0
// headers and a per-connection sequence id starting at 1, responses
// matched by sequence id in whatever order they come. It decodes responses
// as strictly as the Go client: any response it cannot decode is a test
// failure, since it would kill a real client's session.
type testClient struct {
	t    testing.TB
	conn net.Conn
	seq  atomic.Int32

	wmu sync.Mutex

	mu      sync.Mutex
	pending map[int32]chan pegasusrpc.Response
	stray   []pegasusrpc.Response // responses nobody waited for
	readErr error
	closed  chan struct{}
}

// errConnClosed is what calls pending on a closed connection get.
var errConnClosed = errors.New("test client: connection closed")

func dialTestClient(t testing.TB, addr string) *testClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &testClient{t: t, conn: conn, pending: make(map[int32]chan pegasusrpc.Response), closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *testClient) readLoop() {
	defer close(c.closed)
	br := bufio.NewReader(c.conn)
	for {
		f, err := pegasusrpc.ReadResponseFrame(br, 0)
		if err == nil {
			var resp pegasusrpc.Response
			if resp, err = pegasusrpc.DecodeResponse(f); err == nil {
				c.deliver(resp)
				continue
			}
			c.t.Errorf("response the Go client could not decode: %v", err)
		}
		c.mu.Lock()
		c.readErr = err
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		c.mu.Unlock()
		return
	}
}

func (c *testClient) deliver(resp pegasusrpc.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.pending[resp.SeqID]
	if ch == nil {
		c.stray = append(c.stray, resp)
		return
	}
	delete(c.pending, resp.SeqID)
	ch <- resp
}

// request builds a request with the header the Go client would send.
func (c *testClient) request(gpid pegasusrpc.Gpid, partitionHash uint64, rpc pegasusrpc.RPC, args pegasusrpc.Value) *pegasusrpc.Request {
	return &pegasusrpc.Request{
		Header: pegasusrpc.RequestHeader{
			Version:       pegasusrpc.HeaderVersion0,
			Gpid:          gpid,
			ClientTimeout: 5000,
			ThreadHash:    gpid.ThreadHash(),
			PartitionHash: partitionHash,
		},
		RPC:   rpc,
		SeqID: c.seq.Add(1),
		Args:  args,
	}
}

// send writes req and returns a channel that receives its response (or is
// closed if the connection ends first).
func (c *testClient) send(req *pegasusrpc.Request) <-chan pegasusrpc.Response {
	c.t.Helper()
	b, err := pegasusrpc.AppendRequest(nil, req)
	if err != nil {
		c.t.Fatal(err)
	}
	ch := make(chan pegasusrpc.Response, 1)
	c.mu.Lock()
	if c.readErr != nil {
		close(ch)
	} else {
		c.pending[req.SeqID] = ch
	}
	c.mu.Unlock()
	c.writeRaw(b)
	return ch
}

// sendOneway writes req without waiting for a response: any response
// to it is a stray.
func (c *testClient) sendOneway(req *pegasusrpc.Request) {
	c.t.Helper()
	b, err := pegasusrpc.AppendRequest(nil, req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(b)
}

func (c *testClient) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.Write(b) // a failed write shows as a closed connection
}

// wait returns the response from ch.
func (c *testClient) wait(ch <-chan pegasusrpc.Response) (pegasusrpc.Response, error) {
	select {
	case resp, ok := <-ch:
		if !ok {
			return resp, errConnClosed
		}
		return resp, nil
	case <-time.After(20 * time.Second):
		return pegasusrpc.Response{}, errors.New("test client: no response within 20s")
	}
}

// call sends one request and returns its response.
func (c *testClient) call(gpid pegasusrpc.Gpid, partitionHash uint64, rpc pegasusrpc.RPC, args pegasusrpc.Value) (pegasusrpc.Response, error) {
	c.t.Helper()
	return c.wait(c.send(c.request(gpid, partitionHash, rpc, args)))
}

// mustCall is call for a request that must succeed at the rpc level; it
// returns the result.
func (c *testClient) mustCall(gpid pegasusrpc.Gpid, partitionHash uint64, rpc pegasusrpc.RPC, args pegasusrpc.Value) pegasusrpc.Value {
	c.t.Helper()
	resp, err := c.call(gpid, partitionHash, rpc, args)
	if err != nil {
		c.t.Fatalf("%s: %v", rpc, err)
	}
	if !resp.Err.IsOK() {
		c.t.Fatalf("%s: rpc error %s", rpc, resp.Err)
	}
	return resp.Result
}

// waitClosed waits until the server closes the connection.
func (c *testClient) waitClosed(within time.Duration) error {
	select {
	case <-c.closed:
		return nil
	case <-time.After(within):
		return fmt.Errorf("connection still open after %v", within)
	}
}

func (c *testClient) strays() []pegasusrpc.Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]pegasusrpc.Response(nil), c.stray...)
}
