package pegasusserve

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// MetaOptions tune a MetaHandler. Zero fields take the defaults.
type MetaOptions struct {
	// AddressOverride, when set, maps a server's gRPC address to the
	// Pegasus address clients must dial, before the cluster's own account
	// of it is consulted; returning false falls back to that account.
	// Tests that run Pegasus listeners of their own use it.
	AddressOverride func(grpcAddr string) (pegasusAddr string, ok bool)
	// AddressTTL is how long a fetched address mapping is used;
	// DefaultAddressTTL when zero.
	AddressTTL time.Duration
	// Now is the clock of the address cache; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Credentials reach the local meta server's gRPC service.
	Credentials dial.Credentials
}

// MetaHandler serves the meta server RPC of Pegasus clients,
// RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX, by asking the local meta server
// over gRPC and translating the answer: server addresses become the
// servers' Pegasus addresses, and errors take the Pegasus form (a follower
// answers ERR_FORWARD_TO_OTHERS naming the leader's Pegasus address).
// Every other meta RPC (the admin ones) is answered ERR_HANDLER_NOT_FOUND.
type MetaHandler struct {
	opts MetaOptions
	cc   *grpc.ClientConn
	meta pb.MetaClient
	book *addressBook
	// unmapped remembers the servers already reported as lacking a
	// Pegasus address, to log each once rather than on every query.
	unmapped sync.Map
}

// NewMetaHandler returns a handler that asks the meta server whose gRPC
// service listens at localGRPCAddr. The connection is made lazily.
func NewMetaHandler(localGRPCAddr string, opts MetaOptions) (*MetaHandler, error) {
	if opts.AddressTTL <= 0 {
		opts.AddressTTL = DefaultAddressTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cc, err := dialLocal(localGRPCAddr, opts.Credentials)
	if err != nil {
		return nil, err
	}
	meta := pb.NewMetaClient(cc)
	return &MetaHandler{
		opts: opts,
		cc:   cc,
		meta: meta,
		book: newAddressBook(meta, opts.AddressOverride, opts.AddressTTL, opts.Now),
	}, nil
}

// Close closes the connection to the meta server.
func (h *MetaHandler) Close() error { return h.cc.Close() }

// Serve implements Handler.
func (h *MetaHandler) Serve(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	q, ok := req.Args.(*pegasusrpc.QueryCfgRequest)
	if !ok {
		return pegasusrpc.CodeHandlerNotFound, nil
	}
	resp, err := h.meta.QueryConfig(ctx, &pb.QueryConfigRequest{Table: q.AppName, PartitionIndices: q.PartitionIndices})
	if err != nil {
		// Not even an answer: the clients try the other meta servers.
		return failureOutcome(err).code, nil
	}
	out := &pegasusrpc.QueryCfgResponse{Err: metaBodyCode(resp.GetError())}
	switch out.Err {
	case pegasusrpc.CodeOK:
		h.fillConfig(ctx, resp, out)
	case pegasusrpc.CodeForwardToOthers:
		// The Pegasus way to name the leader: partitions[0].primary.
		// Clients that know no leader from it (none, or an older client)
		// ask the other meta servers of their list instead.
		if leader := h.book.lookup(ctx, metaAddresses, resp.GetError().GetPrimary()); leader.IsValid() {
			out.Partitions = []pegasusrpc.PartitionConfiguration{{Primary: leader}}
		}
	}
	return pegasusrpc.CodeOK, out
}

// fillConfig translates a table's configuration.
func (h *MetaHandler) fillConfig(ctx context.Context, resp *pb.QueryConfigResponse, out *pegasusrpc.QueryCfgResponse) {
	t := resp.GetTable()
	if code := tableStatusCode(t.GetStatus()); !code.IsOK() {
		out.Err = code
		return
	}
	out.AppID = t.GetAppId()
	out.PartitionCount = t.GetPartitionCount()
	out.IsStateful = true
	out.Partitions = make([]pegasusrpc.PartitionConfiguration, 0, len(resp.GetPartitions()))
	for _, p := range resp.GetPartitions() {
		// A partition without a primary (between a failure and the next
		// assignment) goes out with the invalid address, as from a Pegasus
		// meta server; so does a primary whose Pegasus address is unknown.
		// The Go client then keeps its previous routing and asks again.
		primary := h.book.lookup(ctx, replicaAddresses, p.GetPrimary())
		if p.GetPrimary() != "" && !primary.IsValid() {
			if _, seen := h.unmapped.LoadOrStore(p.GetPrimary(), true); !seen {
				h.opts.Logger.Warn("pegasus: a primary has no usable Pegasus address; Pegasus clients cannot reach its partitions",
					"primary", p.GetPrimary())
			}
		}
		out.Partitions = append(out.Partitions, pegasusrpc.PartitionConfiguration{
			Pid:                 pegasusrpc.Gpid{AppID: p.GetGpid().GetAppId(), PartitionIndex: p.GetGpid().GetPartitionIndex()},
			Ballot:              p.GetBallot(),
			MaxReplicaCount:     p.GetMaxReplicaCount(),
			Primary:             primary,
			Secondaries:         h.mapAddresses(ctx, p.GetSecondaries()),
			LastDrops:           h.mapAddresses(ctx, p.GetLastDrops()),
			LastCommittedDecree: p.GetLastCommittedDecree(),
			// The host_port twins stay unset: clients of 2.5.0 and older
			// cannot skip them (see pegasusrpc.PartitionConfiguration).
		})
	}
}

// mapAddresses maps replica addresses, leaving out those without a
// Pegasus address: clients only dial primaries, the lists are for show.
func (h *MetaHandler) mapAddresses(ctx context.Context, grpcAddrs []string) []pegasusrpc.RPCAddress {
	var out []pegasusrpc.RPCAddress
	for _, g := range grpcAddrs {
		if a := h.book.lookup(ctx, replicaAddresses, g); a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}
