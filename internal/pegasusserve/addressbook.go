package pegasusserve

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Partition configurations name servers by their gRPC address; Pegasus
// clients must be sent the Pegasus address of the same server, as an IPv4
// rpc_address. Each server reports its Pegasus address to the meta
// servers (replica servers in their beacons, meta servers in their
// registration), so the meta server's ListNodes and ClusterInfo hold the
// mapping. addressBook caches it for a short while: configurations are
// queried often (every client, after every routing error), the mapping
// changes only when a server restarts with another configuration.

// DefaultAddressTTL is how long a fetched address mapping is used.
const DefaultAddressTTL = 3 * time.Second

// missRefreshInterval bounds how often an address absent from the mapping
// triggers a refetch: a server without a Pegasus listener is absent for
// good, and must not cost a ListNodes per query.
const missRefreshInterval = 500 * time.Millisecond

type addressKind uint8

const (
	replicaAddresses addressKind = iota
	metaAddresses
)

type addressBook struct {
	meta     pb.MetaClient
	override func(grpcAddr string) (string, bool)
	ttl      time.Duration
	now      func() time.Time
	resolver *net.Resolver

	mu     sync.Mutex
	tables [2]addressTable
}

// addressTable is one fetched mapping, gRPC address -> rpc_address.
type addressTable struct {
	addrs     map[string]pegasusrpc.RPCAddress
	fetchedAt time.Time
}

func newAddressBook(meta pb.MetaClient, override func(string) (string, bool), ttl time.Duration, now func() time.Time) *addressBook {
	return &addressBook{meta: meta, override: override, ttl: ttl, now: now, resolver: net.DefaultResolver}
}

// lookup returns the rpc_address of the server at grpcAddr, or 0 (the
// invalid address, which clients treat as "no server") when it has none.
func (b *addressBook) lookup(ctx context.Context, kind addressKind, grpcAddr string) pegasusrpc.RPCAddress {
	if grpcAddr == "" {
		return 0
	}
	if b.override != nil {
		if p, ok := b.override(grpcAddr); ok {
			a, err := b.resolve(ctx, p, grpcAddr)
			if err != nil {
				return 0
			}
			return a
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := &b.tables[kind]
	age := b.now().Sub(t.fetchedAt)
	a, ok := t.addrs[grpcAddr]
	if t.addrs == nil || age >= b.ttl || !ok && age >= missRefreshInterval {
		// Fetching under the lock makes concurrent queries share one
		// fetch instead of each sending its own.
		if fresh, err := b.fetch(ctx, kind); err == nil {
			*t = addressTable{addrs: fresh, fetchedAt: b.now()}
			a = fresh[grpcAddr]
		}
	}
	return a
}

// fetch reads the current mapping of kind from the local meta server.
func (b *addressBook) fetch(ctx context.Context, kind addressKind) (map[string]pegasusrpc.RPCAddress, error) {
	pairs := make(map[string]string)
	switch kind {
	case replicaAddresses:
		resp, err := b.meta.ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil {
			return nil, err
		}
		if e := resp.GetError(); e.GetCode() != pb.ErrorCode_ERR_OK {
			return nil, fmt.Errorf("list nodes: %s %s", e.GetCode(), e.GetMessage())
		}
		for _, n := range resp.GetNodes() {
			pairs[n.GetAddress()] = n.GetPegasusAddress()
		}
	case metaAddresses:
		// Followers answer ClusterInfo too, with the meta server list.
		resp, err := b.meta.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
		if err != nil {
			return nil, err
		}
		for _, m := range resp.GetMetas() {
			pairs[m.GetAddress()] = m.GetPegasusAddress()
		}
	}
	out := make(map[string]pegasusrpc.RPCAddress, len(pairs))
	for grpcAddr, pegasusAddr := range pairs {
		if pegasusAddr == "" {
			continue // no Pegasus listener on that server
		}
		if a, err := b.resolve(ctx, pegasusAddr, grpcAddr); err == nil {
			out[grpcAddr] = a
		}
	}
	return out, nil
}

// resolve turns a server's Pegasus listen address into an rpc_address. A
// listener bound to all interfaces ("0.0.0.0:34821", ":34821") is reached
// at the host of the server's gRPC address; a host name is resolved to
// its first IPv4 address.
func (b *addressBook) resolve(ctx context.Context, pegasusAddr, grpcAddr string) (pegasusrpc.RPCAddress, error) {
	host, portStr, err := net.SplitHostPort(pegasusAddr)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, pegasusAddr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("%w: %q: bad port", ErrInvalidAddress, pegasusAddr)
	}
	if ip, perr := netip.ParseAddr(host); host == "" || perr == nil && ip.IsUnspecified() {
		grpcHost, _, serr := net.SplitHostPort(grpcAddr)
		if serr != nil || grpcHost == "" {
			return 0, fmt.Errorf("%w: %q listens on every interface and %q names no host", ErrInvalidAddress, pegasusAddr, grpcAddr)
		}
		host = grpcHost
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := b.resolver.LookupNetIP(ctx, "ip4", host)
		if lerr != nil || len(ips) == 0 {
			return 0, fmt.Errorf("%w: resolving %q: %v", ErrInvalidAddress, host, lerr)
		}
		ip = ips[0]
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() {
		return 0, fmt.Errorf("%w: %q", ErrInvalidAddress, pegasusAddr)
	}
	a, err := pegasusrpc.NewRPCAddress(netip.AddrPortFrom(ip, uint16(port)))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	return a, nil
}
