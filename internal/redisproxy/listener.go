package redisproxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tidwall/redcon"
)

// drainingListener delays the end of redcon's accept loop until the running
// batches are done: redcon closes every connection as soon as Accept fails,
// which would cut replies off mid-write.
type drainingListener struct {
	net.Listener
	s *Server
	// lastErr is the accept error that ended serving other than by
	// shutdown. It is written before Accept returns it to redcon and read
	// after redcon's Serve returned.
	lastErr error
	backoff time.Duration
	// maxRequestBytes is the limit every accepted connection gets.
	maxRequestBytes int
}

func (l *drainingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	switch {
	case err == nil:
		l.backoff = 0
		return &limitedConn{Conn: c, limit: l.maxRequestBytes}, nil
	case l.s.isClosing():
		<-l.s.drained
		return nil, net.ErrClosed
	case errors.Is(err, net.ErrClosed):
		l.lastErr = err
		return nil, err
	}
	// A transient failure such as running out of file descriptors: redcon
	// retries at once, so pause to avoid spinning, as net/http does.
	l.backoff = min(max(2*l.backoff, 5*time.Millisecond), time.Second)
	time.Sleep(l.backoff)
	return nil, err
}

// errRequestTooLarge ends a connection whose request outgrew
// Config.MaxRequestBytes.
var errRequestTooLarge = errors.New("redisproxy: request too large")

// readChunk caps one read from a client. It makes the byte count of
// limitedConn precise to within one chunk: the count since the last
// complete pipeline is the unfinished command plus at most one read's worth
// of commands redcon has not handed over yet.
const readChunk = 16 << 10

// limitedConn counts the bytes read from a client since its last complete
// pipeline. redcon buffers a command until it has all of it, growing its
// buffer as needed, so this count is what bounds that buffer: a command of
// up to limit bytes always passes, one over limit + 2*readChunk never does.
//
// Reads happen on the connection's own goroutine, which also runs its
// pipelines (serveBatch calls completed), so the count needs no lock.
type limitedConn struct {
	net.Conn
	limit   int
	pending int
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	n, err := c.Conn.Read(p)
	c.pending += n
	if c.pending > c.limit+readChunk {
		// Say why before closing, as Redis does for an oversized bulk.
		// Nothing else writes to the connection meanwhile: replies are
		// written by this same goroutine, between reads.
		msg := fmt.Sprintf("ERR Protocol error: request larger than %d bytes", c.limit)
		c.Conn.Write(redcon.AppendError(nil, msg))
		return 0, fmt.Errorf("%w: over %d bytes", errRequestTooLarge, c.limit)
	}
	return n, err
}

// completed resets the count: everything read so far formed whole
// commands, now handed to the proxy, or belongs to the next command, of
// which at most one read's worth is forgotten.
func (c *limitedConn) completed() { c.pending = 0 }
