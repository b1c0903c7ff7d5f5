package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// The data path is internal/stream: one gRPC connection per replica server
// and on it one multiplexed Data stream shared by all operations routed to
// that server. This file only classifies its failures by the client's
// rules (errors.go).

// replicaConn is the client's connection to one replica server.
type replicaConn struct {
	*stream.Conn
}

func newReplicaConn(addr string, cc *grpc.ClientConn) *replicaConn {
	return &replicaConn{stream.New(addr, cc)}
}

// callResult is what one attempt on a stream produced: a reply, or the
// error that prevented one and the rule for it.
type callResult struct {
	resp *pb.ClientResponse
	err  error
	rule rule
	// sent reports that the request may have reached the server.
	sent bool
}

// roundTrip sends req on the server's stream (internal/stream sets req.Id
// and numbers the send of a write) and waits for the reply or for ctx to
// end. When ctx ends first, sent says whether the request may have reached
// the server; the caller tells the ends of its contexts apart itself.
func (c *replicaConn) roundTrip(ctx context.Context, req *pb.ClientRequest) callResult {
	resp, err := c.RoundTrip(ctx, req)
	if err == nil {
		return callResult{resp: resp, sent: true}
	}
	se := &stream.Error{Addr: c.Addr(), Err: err}
	errors.As(err, &se)
	if errors.Is(se.Err, stream.ErrInvalidRequest) {
		return callResult{err: fmt.Errorf("%w: %v", ErrInvalidArgument, se.Err), rule: rule{kind: ErrInvalidArgument, rejected: true}}
	}
	te := transportRule(se.Addr, se.Err)
	return callResult{err: te, rule: te.rule, sent: se.Sent}
}
