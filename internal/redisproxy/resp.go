package redisproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/pegasus-go/pegasus/internal/netguard"
)

// The RESP2 request parser.
//
// The proxy first used github.com/tidwall/redcon's parser (v1.6.4), which a
// client could break with one line each:
//
//   - "*1\r\n$9223372036854775800\r\nab\r\n" crashed the process: the bulk
//     length is added to the read position without an overflow check, and
//     the sum indexes the buffer (index out of range);
//   - "*9223372036854775807\r\n" pinned a core for good, even after the
//     client left: the announced count sizes a loop before any argument is
//     there;
//   - an inline command without a newline was scanned again from its first
//     byte on every read, so 16 MiB sent in small reads cost 17 s of CPU.
//
// What upstream should fix: reject a bulk length that is negative or above
// a limit (Redis' proto-max-bulk-len, 512 MB) and an argument count above
// a limit (Redis' 1024*1024) before using either; check `pos+len+2` for
// overflow; remember how far an incomplete line was scanned; cap inline
// lines (Redis: 64 KiB). docs/security.md says the same.
//
// This parser keeps the state of the command being read between reads, so
// every byte is looked at once; checks every count and length against the
// limits (and the command against Config.MaxRequestBytes) as soon as its
// header line is read, before anything is allocated for it; and grows its
// buffer only as bytes arrive, drawing on the server's request-byte budget
// for everything beyond a small base.

// Limits of the parser, Redis' own where Redis has one.
const (
	// maxArgs is the largest argument count of a command (Redis: 1024*1024).
	maxArgs = 1 << 20
	// maxInline is the longest inline command line (Redis: 64 KiB).
	maxInline = 64 << 10
	// maxHeaderLine bounds a "*<count>" or "$<length>" line with its CRLF:
	// a sign and 19 digits are enough for any int64.
	maxHeaderLine = 32
	// baseBuffer is what every connection reads into without drawing on the
	// budget; a larger command grows the buffer.
	baseBuffer = 16 << 10
)

// protocolError is a request that breaks RESP: the connection is answered
// with it and closed, as Redis does.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "ERR Protocol error: " + e.msg }

// errProtocol lets callers recognise protocol errors with errors.Is.
var errProtocol = errors.New("redisproxy: protocol error")

func (e *protocolError) Is(target error) bool { return target == errProtocol }

func protoErr(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// request is one command: its arguments, the command name first. The
// arguments alias the connection's buffer until the next readBatch.
type request struct {
	Args [][]byte
}

// respReader reads the commands of one connection.
type respReader struct {
	rd         io.Reader
	maxRequest int
	budget     *netguard.Budget
	// ctx bounds waiting for budget: the server's life.
	ctx context.Context

	buf []byte
	// start is where the command being parsed begins in buf; w is the end
	// of the bytes read.
	start, w int
	// reserved is how much of buf's capacity was drawn from the budget.
	reserved int64
	release  []func()

	// State of the command being parsed, as offsets from start so that
	// moving the command to the front of buf keeps them valid.
	pos     int      // next byte to parse
	want    int      // arguments announced; 0 before the "*" line
	bulk    int      // length of the bulk being read; -1 before its "$" line
	args    [][2]int // [from, to) of each argument read
	scanned int      // inline: bytes already searched for '\n'
	// err is a protocol error found behind the commands of the last batch.
	err error
}

func newRespReader(ctx context.Context, rd io.Reader, maxRequest int, budget *netguard.Budget) *respReader {
	return &respReader{ctx: ctx, rd: rd, maxRequest: maxRequest, budget: budget, buf: make([]byte, baseBuffer), bulk: -1}
}

// readBatch returns the next command and every other complete command
// already read behind it: one pipeline. It reads until there is at least
// one. The commands alias the reader's buffer until the next call.
func (r *respReader) readBatch() ([]request, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.settle()
	for {
		var batch []request
		for {
			cmd, ok, err := r.parse()
			if err != nil {
				if len(batch) > 0 {
					// The commands before the bad one run first, as in
					// Redis; the error comes with the next call.
					r.err = err
					return batch, nil
				}
				return nil, err
			}
			if !ok {
				break
			}
			if len(cmd.Args) > 0 {
				batch = append(batch, cmd)
			}
		}
		if len(batch) > 0 {
			return batch, nil
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// settle runs between batches, once the previous batch was executed: the
// incomplete command moves to the front of the buffer, and a buffer grown
// for a large command shrinks back and returns its bytes to the budget.
func (r *respReader) settle() {
	pending := r.w - r.start
	if r.start > 0 {
		copy(r.buf, r.buf[r.start:r.w])
		r.start, r.w = 0, pending
	}
	if len(r.buf) > baseBuffer && pending <= baseBuffer {
		nb := make([]byte, baseBuffer)
		copy(nb, r.buf[:pending])
		r.buf = nb
		for _, rel := range r.release {
			rel()
		}
		r.release, r.reserved = nil, 0
	}
}

// fill reads more bytes, growing the buffer when it is full.
func (r *respReader) fill() error {
	if r.w == len(r.buf) {
		if r.start > 0 {
			copy(r.buf, r.buf[r.start:r.w])
			r.w -= r.start
			r.start = 0
		} else if err := r.grow(); err != nil {
			return err
		}
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// grow doubles the buffer, up to what the command may need, drawing the
// new bytes from the budget. The command's size was checked against
// maxRequest when its lengths were read, so growth stops there.
func (r *respReader) grow() error {
	size := min(2*len(r.buf), r.maxRequest+maxHeaderLine)
	if size <= len(r.buf) {
		return protoErr("request larger than %d bytes", r.maxRequest)
	}
	if r.budget != nil {
		// Hold nothing while waiting: connections that grew together and
		// each kept their earlier steps while waiting for the next one
		// could hold the whole budget between them and wait forever. So
		// give back what this buffer holds and take its whole new size in
		// one reservation (never more than the budget: the configuration
		// keeps MaxRequestBytes within it).
		r.close()
		need := size - baseBuffer
		rel, err := r.budget.Reserve(r.ctx, need)
		if err != nil {
			return fmt.Errorf("redisproxy: waiting for request memory: %w", err)
		}
		r.release = append(r.release, rel)
		r.reserved = int64(need)
	}
	nb := make([]byte, size)
	copy(nb, r.buf[:r.w])
	r.buf = nb
	return nil
}

// close returns the reader's budget.
func (r *respReader) close() {
	for _, rel := range r.release {
		rel()
	}
	r.release, r.reserved = nil, 0
}

// parse parses as much of the command at start as the buffer holds. It
// returns the command when complete (ok), and moves start past it.
func (r *respReader) parse() (request, bool, error) {
	b := r.buf[r.start:r.w]
	if len(b) == 0 {
		return request{}, false, nil
	}
	if r.want == 0 && b[0] != '*' {
		return r.parseInline(b)
	}
	if r.want == 0 {
		n, used, ok, err := parseHeader(b, '*', "invalid multibulk length")
		if err != nil || !ok {
			return request{}, false, err
		}
		if n > maxArgs {
			return request{}, false, protoErr("invalid multibulk length")
		}
		if n <= 0 {
			// Redis ignores an empty or null array.
			r.done(used)
			return request{}, true, nil
		}
		r.want, r.pos = int(n), used
		r.args = r.args[:0]
	}
	for len(r.args) < r.want {
		if r.bulk < 0 {
			if r.pos >= len(b) {
				return request{}, false, nil
			}
			if b[r.pos] != '$' {
				return request{}, false, protoErr("expected '$', got '%s'", printable(b[r.pos]))
			}
			n, used, ok, err := parseHeader(b[r.pos:], '$', "invalid bulk length")
			if err != nil || !ok {
				return request{}, false, err
			}
			if n < 0 {
				return request{}, false, protoErr("invalid bulk length")
			}
			// The whole command must fit the limit: checked now, before a
			// byte of the argument is buffered (n first, so that the sum
			// cannot overflow).
			if n > int64(r.maxRequest) || int64(r.pos+used)+n+2 > int64(r.maxRequest) {
				return request{}, false, protoErr("request larger than %d bytes", r.maxRequest)
			}
			r.pos += used
			r.bulk = int(n)
		}
		end := r.pos + r.bulk
		if end+2 > len(b) {
			return request{}, false, nil
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			return request{}, false, protoErr("expected CRLF after a bulk of %d bytes", r.bulk)
		}
		r.args = append(r.args, [2]int{r.pos, end})
		r.pos, r.bulk = end+2, -1
	}
	cmd := request{Args: make([][]byte, len(r.args))}
	for i, a := range r.args {
		cmd.Args[i] = b[a[0]:a[1]:a[1]]
	}
	r.done(r.pos)
	return cmd, true, nil
}

// parseInline parses an inline command: words separated by spaces, ended
// by a newline.
func (r *respReader) parseInline(b []byte) (request, bool, error) {
	i := bytes.IndexByte(b[r.scanned:], '\n')
	if i < 0 {
		// Remember how far the line was searched: the next read continues
		// from there instead of scanning the line again.
		r.scanned = len(b)
		if len(b) > maxInline {
			return request{}, false, protoErr("too big inline request")
		}
		return request{}, false, nil
	}
	end := r.scanned + i
	if end > maxInline {
		return request{}, false, protoErr("too big inline request")
	}
	line := b[:end]
	r.done(end + 1)
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return request{Args: bytes.Fields(line)}, true, nil
}

// done moves start past a complete command of n bytes and resets the
// state.
func (r *respReader) done(n int) {
	r.start += n
	r.pos, r.want, r.bulk, r.scanned = 0, 0, -1, 0
	r.args = r.args[:0]
}

// parseHeader parses a "<kind><integer>\r\n" line at the start of b. ok is
// false while the line is incomplete; a line longer than any valid one, or
// one that is not an integer, is the protocol error msg.
func parseHeader(b []byte, kind byte, msg string) (n int64, used int, ok bool, err error) {
	limit := min(len(b), maxHeaderLine)
	i := bytes.IndexByte(b[:limit], '\n')
	if i < 0 {
		if len(b) >= maxHeaderLine {
			return 0, 0, false, protoErr("%s", msg)
		}
		return 0, 0, false, nil
	}
	if b[0] != kind || i < 2 || b[i-1] != '\r' {
		return 0, 0, false, protoErr("%s", msg)
	}
	n, perr := strconv.ParseInt(string(b[1:i-1]), 10, 64)
	if perr != nil {
		return 0, 0, false, protoErr("%s", msg)
	}
	return n, i + 1, true, nil
}

// printable renders a byte of a protocol error readably.
func printable(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("\\x%02x", c)
}
