package pegasusrpc

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (with %w), so callers can branch with errors.Is and still log the
// detailed message (offsets, lengths, names).
//
// Frame-level errors (ErrBadMagic, ErrBadHeader, ErrFrameTooLarge and
// ErrTruncated from the frame readers) are fatal for the connection: the
// byte stream can no longer be re-synchronised, and the C++ server closes
// it too. Errors from DecodeRequest concern one request only: the frame
// boundaries are intact and the returned Request carries Name and SeqID,
// so a server can answer (CodeHandlerNotFound, CodeInvalidData) and keep
// serving the connection.
var (
	// ErrBadMagic reports a frame that does not start with "THFT".
	ErrBadMagic = errors.New("pegasusrpc: bad frame magic")

	// ErrBadHeader reports an unknown header version, a v0 header whose
	// hdr_length is not 48, or an oversized v1 request_meta.
	ErrBadHeader = errors.New("pegasusrpc: bad frame header")

	// ErrFrameTooLarge reports a body (or response) longer than the limit
	// given by the caller. It is raised from the length field alone, before
	// any buffer for the body is allocated.
	ErrFrameTooLarge = errors.New("pegasusrpc: frame too large")

	// ErrTruncated reports input that ends inside a frame: more bytes are
	// needed, or the stream was cut. It is never returned for a complete
	// frame, so a caller that buffers input may wait for more on it.
	ErrTruncated = errors.New("pegasusrpc: truncated input")

	// ErrMalformed reports frame content that can never be valid: a length
	// or count that claims more bytes than the frame holds (checked before
	// anything is allocated, so a lying length never causes a large make),
	// a negative length, an unknown thrift type id, a bad message version or
	// message type, a list whose element type does not match the schema,
	// lists that would expand to more than 16 times the input in memory, or
	// nesting deeper than the decoder accepts.
	ErrMalformed = errors.New("pegasusrpc: malformed thrift data")

	// ErrUnknownRPC reports an RPC name this codec does not serve. The
	// returned Request still carries Name and SeqID so that the caller can
	// answer with CodeHandlerNotFound and keep the connection.
	ErrUnknownRPC = errors.New("pegasusrpc: unknown rpc")

	// ErrUnknownErrorCode reports an error name the official clients cannot
	// parse. The Go client drops the whole connection on such a name, so the
	// encoder refuses to send one and the decoder refuses to accept one.
	ErrUnknownErrorCode = errors.New("pegasusrpc: unknown error code")

	// ErrTypeMismatch reports an args or result value that is missing or has
	// the wrong type for its RPC (e.g. a ReadResponse for a put).
	ErrTypeMismatch = errors.New("pegasusrpc: value type does not match rpc")

	// ErrOneway reports an attempt to build a response for a one-way RPC
	// (clear_scanner). Answering it would kill a Go client session.
	ErrOneway = errors.New("pegasusrpc: one-way rpc has no response")

	// ErrInvalidKey reports a Pegasus key that cannot be built or split: a
	// hash key longer than 65535 bytes, or an encoded key shorter than its
	// own hash key length prefix says.
	ErrInvalidKey = errors.New("pegasusrpc: invalid key")
)
