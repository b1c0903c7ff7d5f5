package rpc

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// ClusterHeader is the gRPC metadata key carrying the caller's cluster id
// on replica <-> replica streams (Replicate, FetchCheckpoint). Meta <->
// replica messages carry it in a cluster_id field instead, because the
// replica server reads the meta server's id from the answers too.
//
// A stream's metadata is read once when it opens, so the check costs
// nothing per message on the hot replication path.
const ClusterHeader = "pegasus-cluster-id"

// WithClusterID returns ctx with id in its outgoing metadata; an empty id
// (a server that has not joined a cluster yet) adds nothing.
func WithClusterID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, ClusterHeader, id)
}

// IncomingClusterID returns the cluster id a caller sent, or "" when it
// sent none.
func IncomingClusterID(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	if vals := md.Get(ClusterHeader); len(vals) > 0 {
		return vals[0]
	}
	return ""
}
