package redisproxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pegasus-go/pegasus/internal/netguard"
)

// Hostile input (issue 16, finding 6). With the parser of redcon v1.6.4
// the first case crashed the test binary (index out of range), the second
// got no reply while a core spun, and the third buffered and rescanned the
// line without end.

func (c *rawConn) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// stillServes checks that the proxy answers a fresh client at once.
func (p *proxy) stillServes(t *testing.T) {
	t.Helper()
	c := p.raw(t)
	c.send([]string{"PING"})
	c.expect("+PONG\r\n")
}

func TestHostileBulkLengthOverflow(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	c := p.raw(t)
	c.write("*1\r\n$9223372036854775800\r\nab\r\n")
	c.expect("-ERR Protocol error: request larger than 67108864 bytes\r\n")
	c.expectClosed()
	p.stillServes(t)
}

func TestHostileArgumentCount(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	for _, line := range []string{"*9223372036854775807\r\n", "*1048577\r\n", "*99999999999999999999999\r\n"} {
		c := p.raw(t)
		c.write(line)
		c.expect("-ERR Protocol error: invalid multibulk length\r\n")
		c.expectClosed()
	}
	// A count within Redis' limit is only a promise: nothing is allocated
	// for it, and the client that leaves costs nothing further.
	c := p.raw(t)
	c.write("*1048576\r\n$3\r\nGET\r\n")
	c.nc.Close()
	p.stillServes(t)
}

func TestHostileInlineLine(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	c := p.raw(t)
	// 1 MiB without a newline, in small writes: refused once past 64 KiB.
	chunk := strings.Repeat("x", 1024)
	go func() {
		for range 1024 {
			if _, err := io.WriteString(c.nc, chunk); err != nil {
				return
			}
		}
	}()
	c.expect("-ERR Protocol error: too big inline request\r\n")
	c.expectClosed()
	p.stillServes(t)
}

func TestHostileHeaderLines(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	for _, tc := range []struct{ send, want string }{
		{"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1\r\nGET\r\n", "-ERR Protocol error: expected '$', got 'G'\r\n"},
		{"*1\r\n$3\r\nGETxx", "-ERR Protocol error: expected CRLF after a bulk of 3 bytes\r\n"},
		{"*" + strings.Repeat("1", 40), "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*1\r\n$" + strings.Repeat("1", 40), "-ERR Protocol error: invalid bulk length\r\n"},
		{"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
	} {
		c := p.raw(t)
		c.write(tc.send)
		c.expect(tc.want)
		c.expectClosed()
	}
	p.stillServes(t)
}

// Many connections sending large commands at once hold at most the
// proxy's request-byte budget: the ones that find it spent wait, and are
// served once the others are done.
func TestBufferedBytesBudget(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{MaxRequestBytes: 1 << 20, MaxBufferedBytes: 2 << 20})
	value := strings.Repeat("v", 900<<10)
	const clients = 8
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			rdb := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, ReadTimeout: 20 * time.Second, WriteTimeout: 20 * time.Second})
			defer rdb.Close()
			errs <- rdb.Set(context.Background(), "k"+itoa(i), value, 0).Err()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := p.srv.budget.Size(); got != 2<<20 {
		t.Fatalf("budget %d", got)
	}
	// Everything was given back.
	release, err := p.srv.budget.Reserve(context.Background(), 2<<20)
	if err != nil {
		t.Fatalf("budget not returned: %v", err)
	}
	release()
}

// The idle timeout and the connection cap of internal/netguard hold in
// front of the proxy.
func TestIdleTimeoutAndConnectionCap(t *testing.T) {
	srv, err := New(newMemBackend(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := netguard.Wrap(inner, netguard.Config{Name: "redis", MaxConns: 4, IdleTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-served
	}()
	p := &proxy{srv: srv, addr: ln.Addr().String()}
	var held []*rawConn
	for range 4 {
		c := p.raw(t)
		c.send([]string{"PING"})
		c.expect("+PONG\r\n")
		held = append(held, c)
	}
	// A fifth is accepted and closed at once.
	extra := p.raw(t)
	extra.expectClosed()
	// The four go silent and are closed after the idle timeout; then new
	// clients get in again.
	for _, c := range held {
		c.expectClosed()
	}
	p.stillServes(t)
}

// FuzzRESPReader: whatever the bytes and however they are split into
// reads, the reader neither panics nor buffers past its limits, and it
// parses the same commands as from one read.
func FuzzRESPReader(f *testing.F) {
	for _, seed := range []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n",
		"PING\r\nPING\n",
		"*1\r\n$9223372036854775800\r\nab\r\n",
		"*9223372036854775807\r\n",
		"*0\r\n*-1\r\n*1\r\n$0\r\n\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		const limit = 4 << 10
		whole := parseAll(data, len(data)+1, limit)
		pieces := parseAll(data, int(step%16)+1, limit)
		if !reflect.DeepEqual(whole, pieces) {
			t.Fatalf("one read: %q\n%d-byte reads: %q", whole, int(step%16)+1, pieces)
		}
	})
}

// parseAll reads every command of data, step bytes per read, and returns
// them followed by the error that ended reading.
func parseAll(data []byte, step, limit int) []string {
	r := newRespReader(context.Background(), &chunkReader{data: data, step: step}, limit, netguard.NewBudget(1<<20))
	defer r.close()
	var out []string
	for {
		batch, err := r.readBatch()
		if err != nil {
			return append(out, "error: "+err.Error())
		}
		for _, cmd := range batch {
			out = append(out, string(bytes.Join(cmd.Args, []byte{' '})))
		}
		if len(r.buf) > limit+maxHeaderLine+baseBuffer {
			panic("buffer beyond the limit")
		}
	}
}

type chunkReader struct {
	data []byte
	step int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.data)
	c.data = c.data[n:]
	return n, nil
}
