package stream

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package. A RoundTrip that gets no reply returns an
// *Error whose Err is one of them, a context error, or the error that ended
// the stream (a gRPC status, or io.EOF when the server ended it cleanly).
var (
	// ErrClosed: the Conn was closed.
	ErrClosed = errors.New("stream: closed")
	// ErrInvalidRequest: the request cannot be encoded, or exceeds the
	// message size limit. It was not sent.
	ErrInvalidRequest = errors.New("stream: invalid request")
)

// Error reports a request that got no reply from the server at Addr.
type Error struct {
	Addr string
	// Sent reports that the request was handed to gRPC and may have
	// reached the server: a write's outcome is then unknown. A request not
	// sent had no effect.
	Sent bool
	// Err is why there was no reply.
	Err error
}

func (e *Error) Error() string {
	if e.Sent {
		return fmt.Sprintf("stream: %s: %v (request sent)", e.Addr, e.Err)
	}
	return fmt.Sprintf("stream: %s: %v", e.Addr, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
