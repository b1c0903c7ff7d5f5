package pegasusserve

import "errors"

// Sentinel errors of the package. Every error it returns wraps one of them
// (or a context error), so callers branch with errors.Is. Wire codes are
// derived from errors in errmap.go and nowhere else.
var (
	// ErrClosed reports use of a Listener or handler after Close.
	ErrClosed = errors.New("pegasusserve: closed")

	// ErrUnreadableMessage reports a request frame whose thrift message
	// header cannot be decoded: without a sequence id there is nothing to
	// answer, so the connection is closed.
	ErrUnreadableMessage = errors.New("pegasusserve: unreadable request message header")

	// ErrBackendUnavailable reports that a request could not be handed to
	// the local server's gRPC stream at all (no stream could be opened, it
	// broke before the request was sent, or the request's deadline passed
	// first): the request had no effect.
	ErrBackendUnavailable = errors.New("pegasusserve: local server unavailable")

	// ErrBackendBroken reports that the gRPC stream broke while a request
	// was in flight: a write may or may not have been applied.
	ErrBackendBroken = errors.New("pegasusserve: local server stream broke with the request in flight")

	// ErrInvalidRequest reports a request that cannot be carried to the
	// local server: its encoding exceeds the gRPC message limit. It was not
	// sent.
	ErrInvalidRequest = errors.New("pegasusserve: request too large for the local server")

	// ErrBackendResult reports an answer of the local server that lacks the
	// result its request calls for (a bug on one side or the other).
	ErrBackendResult = errors.New("pegasusserve: unexpected result from the local server")

	// ErrInvalidAddress reports a server address that cannot be sent to
	// Pegasus clients, which only understand IPv4 rpc_address values.
	ErrInvalidAddress = errors.New("pegasusserve: address not representable as a Pegasus rpc_address")
)
