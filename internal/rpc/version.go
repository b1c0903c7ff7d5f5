package rpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/version"
)

// ProtocolHeader is the gRPC metadata key carrying the caller's protocol version.
const ProtocolHeader = "pegasus-protocol"

// ErrIncompatibleProtocol is returned (as gRPC FailedPrecondition) when the
// two ends of a call speak protocol versions that cannot run together.
var ErrIncompatibleProtocol = errors.New("rpc: incompatible protocol version")

func withProtocol(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, ProtocolHeader, version.Current().String())
}

// checkProtocol accepts callers without the header (debugging tools) and
// rejects callers whose major version differs from ours.
func checkProtocol(ctx context.Context) error {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil
	}
	vals := md.Get(ProtocolHeader)
	if len(vals) == 0 {
		return nil
	}
	peer, err := version.ParseProtocol(vals[0])
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if own := version.Current(); !own.WireCompatible(peer) {
		return status.Error(codes.FailedPrecondition,
			fmt.Sprintf("%v: caller speaks %s, this server %s", ErrIncompatibleProtocol, peer, own))
	}
	return nil
}

// ClientOptions returns the dial options every role uses: protocol header on
// every call and message size limits matching the server's.
func ClientOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withProtocol(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withProtocol(ctx), desc, cc, method, opts...)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}
}

// ServerOptions returns the server options every role uses: protocol check on
// every call and message size limits.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := checkProtocol(ctx); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := checkProtocol(ss.Context()); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

// MaxMessageSize bounds one gRPC message: a batch of mutations or a
// checkpoint chunk. Larger requests are refused before they are decoded.
const MaxMessageSize = 64 << 20
