// Package stream is the client side of a replica server's
// ReplicaClient.Data stream: the one data path of every process that sends
// data operations to replica servers, the public client (client/) and the
// Pegasus protocol translator (internal/pegasusserve).
//
// A Conn holds one gRPC connection to one replica server and on it one
// long-lived bidirectional Data stream that every operation routed to that
// server shares: each request carries an id, the server answers in any
// order, and replies are matched back to their callers by id. This is what
// lets one connection carry hundreds of thousands of operations a second
// where one unary call per operation would stall at a fraction of that.
//
// Deadlines and cancellation live on top of the stream, per request: a
// caller that gives up withdraws its request and returns; the reply, if it
// ever comes, finds no one waiting and is dropped, and the stream goes on
// serving everyone else. A stream that breaks fails every request still
// pending on it, and the next request opens a new stream.
//
// Whether a failed request may have reached the server is tracked exactly
// (Error.Sent): a request counts as sent from the moment it is handed to
// gRPC, even if gRPC then fails to write it, because from then on nothing
// proves it did not arrive. A write that may have been sent and got no
// answer has an unknown outcome; one that was never sent did not happen
// and may be retried anywhere. Callers turn this into their own errors:
// the client into ErrUnknownOutcome, the translator into the Pegasus code
// its clients read as "maybe applied".
//
// Each request is marshalled by its caller into a frame before it is
// queued, and one goroutine per stream drains the queue and hands every
// ready frame to gRPC in one pass, which coalesces them into few socket
// writes. Marshalling in the caller spreads the encoding work over all
// callers instead of the one sender, makes the size check exact (a request
// over the message limit is refused alone, before it could abort the
// stream under everyone else's requests), and means the stream never holds
// a reference to the caller's keys and values once the call has returned.
// Flow control is gRPC's: when the server reads slower than callers send,
// the sender blocks in gRPC and frames wait in the queue, at most one per
// waiting caller, and each caller still leaves at its own deadline.
//
// The gRPC connection comes from the caller, dialled with internal/dial,
// which carries the process's TLS and credentials.
package stream
