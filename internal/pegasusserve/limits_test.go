package pegasusserve

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/netguard"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// Issue 16, finding 7: 30 connections each sending 60 MiB of a frame took
// a replica server from 52 MB to 3.28 GB. With a budget, the bytes of
// frames being received are reserved before they are buffered: while two
// connections hold the whole budget with half-sent frames, a third
// connection's frame is not read, and it is served as soon as one of them
// gives up. Before the budget the third was served at once, whatever the
// others held.
func TestBudgetHoldsBackFramesBeyondIt(t *testing.T) {
	const frameBody = 512 << 10
	budget := netguard.NewBudget(2 * (frameBody + 1024))
	addr := serveListener(t, HandlerFunc(echoHandler), Config{MaxBodySize: 1 << 20, Budget: budget})

	// A get whose key is large enough that each frame takes about half the
	// budget.
	key := strings.Repeat("k", frameBody)
	frame := func(c *testClient) []byte {
		b, err := pegasusrpc.AppendRequest(nil, getRequest(c, key))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var holders []net.Conn
	for range 2 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		b := frame(&testClient{t: t})
		// Everything but the last byte: the frame's bytes stay reserved.
		if _, err := nc.Write(b[:len(b)-1]); err != nil {
			t.Fatal(err)
		}
		holders = append(holders, nc)
	}
	third := dialTestClient(t, addr)
	// Wait until both holders reserved their share, then send a third
	// frame: it must wait.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		release, err := budget.Reserve(ctx, 4096)
		cancel()
		if err != nil {
			break // the budget is nearly spent: both holders are in
		}
		release()
		if time.Now().After(deadline) {
			t.Fatal("the holders never reserved their frames")
		}
		time.Sleep(5 * time.Millisecond)
	}
	answer := third.send(getRequest(third, key))
	select {
	case <-answer:
		t.Fatal("a frame beyond the budget was read and served while the budget was spent")
	case <-time.After(300 * time.Millisecond):
	}
	// One holder leaves: its bytes come back and the third is served.
	holders[0].Close()
	resp, err := third.wait(answer)
	if err != nil || !resp.Err.IsOK() || len(resp.Result.(*pegasusrpc.ReadResponse).Value) != frameBody {
		t.Fatalf("third request after a holder left: %v %+v", err, resp.Err)
	}
}

// A frame announcing more than the body limit is refused on its header:
// the connection closes without the server reading the body.
func TestFrameOverLimitRefusedOnHeader(t *testing.T) {
	addr := serveListener(t, HandlerFunc(echoHandler), Config{MaxBodySize: 1 << 20})
	c := dialTestClient(t, addr)
	b, err := pegasusrpc.AppendRequest(nil, getRequest(c, strings.Repeat("k", 60)))
	if err != nil {
		t.Fatal(err)
	}
	// Announce a 60 MiB body, send only the header.
	hdr := append([]byte(nil), b[:48]...)
	putUint32(hdr[16:], 60<<20)
	c.writeRaw(hdr)
	if err := c.waitClosed(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
