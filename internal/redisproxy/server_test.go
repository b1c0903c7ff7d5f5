package redisproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// proxy is a Server under test, serving on a loopback port.
type proxy struct {
	srv     *Server
	addr    string
	backend *memBackend
	stop    func() error // cancels Serve and returns its result
}

// startProxy serves backend on a free loopback port until the test ends.
func startProxy(t testing.TB, backend *memBackend, cfg Config) *proxy {
	t.Helper()
	srv, err := New(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	var stopped bool
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-served:
			case <-time.After(30 * time.Second):
				t.Fatal("Serve did not return after cancel")
			}
		}
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &proxy{srv: srv, addr: ln.Addr().String(), backend: backend, stop: stop}
}

// client returns a go-redis client of the proxy with default options, so
// the tests also prove that go-redis' connection handshake (HELLO 3, then
// the RESP2 fallback and CLIENT SETINFO) goes through.
func (p *proxy) client(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// rawConn is a bare TCP connection for checking replies byte for byte.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	rd *bufio.Reader
}

func (p *proxy) raw(t *testing.T) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

// send writes commands as RESP arrays of bulk strings, all in one write so
// that the server reads them as one pipeline.
func (c *rawConn) send(cmds ...[]string) {
	c.t.Helper()
	var b strings.Builder
	for _, cmd := range cmds {
		b.WriteString("*" + itoa(len(cmd)) + "\r\n")
		for _, a := range cmd {
			b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
		}
	}
	if _, err := io.WriteString(c.nc, b.String()); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares them with want.
func (c *rawConn) expect(want string) {
	c.t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c.rd, got); err != nil {
		c.t.Fatalf("reading a %d-byte reply: %v", len(want), err)
	}
	if string(got) != want {
		i := 0
		for i < len(want) && got[i] == want[i] {
			i++
		}
		from, to := max(0, i-40), min(len(want), i+40)
		c.t.Fatalf("reply differs at byte %d of %d:\n got ...%q...\nwant ...%q...", i, len(want), got[from:to], want[from:to])
	}
}

// expectClosed checks that the server closed the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	b, err := c.rd.ReadByte()
	if err == nil {
		c.t.Fatalf("connection open, read %q", b)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		c.t.Fatalf("want closed connection, got %v", err)
	}
}

func itoa(n int) string {
	return string(appendItoa(nil, n))
}

func appendItoa(b []byte, n int) []byte {
	if n >= 10 {
		b = appendItoa(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(nil, Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil backend: %v", err)
	}
	if _, err := New(newMemBackend(), Config{PipelineConcurrency: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("negative concurrency: %v", err)
	}
	if _, err := New(newMemBackend(), Config{CommandTimeout: -time.Second}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("negative timeout: %v", err)
	}
}

func TestServeTwiceFails(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	// Once a command is answered, the first Serve is running.
	c := p.raw(t)
	c.send([]string{"PING"})
	c.expect("+PONG\r\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := p.srv.Serve(context.Background(), ln); !errors.Is(err, ErrServing) {
		t.Fatalf("second Serve: %v", err)
	}
}

func TestServeReportsListenerClosedUnderIt(t *testing.T) {
	srv, err := New(newMemBackend(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	// Wait until Serve accepts, so that the close hits its Accept.
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
	}
	ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after its listener was closed: %v", err)
	}
}

// TestShutdownFinishesRunningCommands: a command already running when the
// context is canceled completes and its reply is delivered; the connection
// is closed after it; commands arriving later are not executed; idle
// connections are closed; Serve returns nil.
func TestShutdownFinishesRunningCommands(t *testing.T) {
	b := newMemBackend()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b.fail = func(op string, key []byte) error {
		if string(key) == "slow" {
			started <- struct{}{}
			<-release
		}
		return nil
	}
	p := startProxy(t, b, Config{})
	busy := p.raw(t)
	idle := p.raw(t)
	idle.send([]string{"PING"})
	idle.expect("+PONG\r\n")

	busy.send([]string{"SET", "slow", "v"})
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop() }()
	// Shutdown has begun once new connections are refused.
	for {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	// A command sent on the idle connection now must not run.
	idle.send([]string{"SET", "late", "v"})
	close(release)

	busy.expect("+OK\r\n")
	busy.expectClosed()
	idle.expectClosed()
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if v, ok := b.value("slow"); !ok || v != "v" {
		t.Errorf("slow = %q, %v; want the running SET applied", v, ok)
	}
	if _, ok := b.value("late"); ok {
		t.Error("a command sent after shutdown began was executed")
	}
	if n := p.srv.clients.Load(); n != 0 {
		t.Errorf("%d clients still counted after Serve returned", n)
	}
}

// TestRequestSizeLimit: a command larger than MaxRequestBytes gets a
// protocol error and its connection is closed, while a long pipeline of
// small commands, far larger in total, is served.
func TestRequestSizeLimit(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{MaxRequestBytes: 16 << 10})
	c := p.raw(t)
	var cmds [][]string
	var want strings.Builder
	for i := range 1000 {
		cmds = append(cmds, []string{"SET", "key" + itoa(i), strings.Repeat("v", 30)})
		want.WriteString("+OK\r\n")
	}
	c.send(cmds...)
	c.expect(want.String())

	// Commands of up to the limit pass.
	c.send([]string{"SET", "limit", strings.Repeat("v", 16<<10-40)})
	c.expect("+OK\r\n")

	// A few bytes past the limit does not: the bulk's length is enough to
	// refuse it, before its bytes are buffered.
	c.send([]string{"SET", "big", strings.Repeat("v", 16<<10)})
	c.expect("-ERR Protocol error: request larger than 16384 bytes\r\n")
	c.expectClosed()
	if _, ok := b.value("big"); ok {
		t.Error("the oversized command was executed")
	}
}
