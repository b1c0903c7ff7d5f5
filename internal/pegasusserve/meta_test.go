package pegasusserve

import (
	"net"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

type metaRig struct {
	t     *testing.T
	clock *fakeClock
	fake  *metatest.Meta
	h     *MetaHandler
	c     *testClient
}

func newMetaRig(t *testing.T, opts MetaOptions) *metaRig {
	t.Helper()
	clock := newFakeClock()
	fake, grpcAddr := metatest.Start(t)
	opts.Now = clock.Now
	h, err := NewMetaHandler(grpcAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &metaRig{t: t, clock: clock, fake: fake, h: h, c: dialTestClient(t, serveListener(t, h, Config{}))}
}

func (r *metaRig) query(table string) *pegasusrpc.QueryCfgResponse {
	r.t.Helper()
	// Meta calls carry gpid {0, 0} and partition hash 0.
	return r.c.mustCall(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: table}).(*pegasusrpc.QueryCfgResponse)
}

func rpcAddr(t testing.TB, s string) pegasusrpc.RPCAddress {
	t.Helper()
	a, err := pegasusrpc.ParseRPCAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestQueryConfig(t *testing.T) {
	r := newMetaRig(t, MetaOptions{})
	r.fake.Update(func(f *metatest.Data) {
		f.Nodes = []*pb.NodeInfo{
			{Address: "10.0.0.1:34801", PegasusAddress: "10.0.0.1:34821"},
			{Address: "10.0.0.2:34801", PegasusAddress: "0.0.0.0:34821"}, // listens on every interface
			{Address: "10.0.0.3:34801", PegasusAddress: "10.0.0.3:34821"},
		}
	})
	r.fake.AddTable("t", 5, 4, []string{"10.0.0.1:34801", "10.0.0.2:34801", "10.0.0.3:34801"})
	resp := r.query("t")
	if resp.Err != pegasusrpc.CodeOK || resp.AppID != 5 || resp.PartitionCount != 4 || len(resp.Partitions) != 4 || !resp.IsStateful {
		t.Fatalf("query_cfg: %+v", resp)
	}
	pegasus := []pegasusrpc.RPCAddress{rpcAddr(t, "10.0.0.1:34821"), rpcAddr(t, "10.0.0.2:34821"), rpcAddr(t, "10.0.0.3:34821")}
	for i, p := range resp.Partitions {
		if p.Pid != (pegasusrpc.Gpid{AppID: 5, PartitionIndex: int32(i)}) || p.Ballot != int64(3+i) || p.MaxReplicaCount != 3 || p.LastCommittedDecree != int64(100+i) {
			t.Errorf("partition %d: %+v", i, p)
		}
		if p.Primary != pegasus[i%3] {
			t.Errorf("partition %d primary %v, want %v", i, p.Primary, pegasus[i%3])
		}
		if len(p.Secondaries) != 2 || p.Secondaries[0] != pegasus[(i+1)%3] || p.Secondaries[1] != pegasus[(i+2)%3] {
			t.Errorf("partition %d secondaries %v", i, p.Secondaries)
		}
		if p.HpPrimary.Set || p.HpSecondaries.Set {
			t.Errorf("partition %d carries host_port fields, which old clients cannot skip", i)
		}
	}
}

func TestQueryConfigErrors(t *testing.T) {
	r := newMetaRig(t, MetaOptions{})
	if resp := r.query("missing"); resp.Err != pegasusrpc.CodeObjectNotFound || len(resp.Partitions) != 0 {
		t.Fatalf("unknown table: %+v", resp)
	}
	r.fake.AddTable("new", 6, 2, []string{"10.0.0.1:34801"})
	r.fake.Update(func(f *metatest.Data) { f.Tables["new"].Table.Status = pb.TableStatus_AS_CREATING })
	if resp := r.query("new"); resp.Err != pegasusrpc.CodeBusyCreating {
		t.Fatalf("table being created: %+v", resp)
	}
	// Any other RPC has no handler at a meta server.
	key := pegasusrpc.Blob("k")
	if resp, err := r.c.call(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCGet, &key); err != nil || resp.Err != pegasusrpc.CodeHandlerNotFound {
		t.Fatalf("get at a meta server: %v %v", resp.Err, err)
	}
}

// A follower answers the Pegasus way: ERR_FORWARD_TO_OTHERS with the
// leader's Pegasus address in partitions[0].primary.
func TestQueryConfigForwardsToLeader(t *testing.T) {
	r := newMetaRig(t, MetaOptions{})
	r.fake.Update(func(f *metatest.Data) {
		f.Leader = "10.0.0.9:34601"
		f.Info.Metas = []*pb.MetaServerInfo{
			{Address: "10.0.0.8:34601", PegasusAddress: "10.0.0.8:34602"},
			{Address: "10.0.0.9:34601", PegasusAddress: "10.0.0.9:34602", Leader: true},
		}
	})
	resp := r.query("t")
	if resp.Err != pegasusrpc.CodeForwardToOthers || len(resp.Partitions) != 1 || resp.Partitions[0].Primary != rpcAddr(t, "10.0.0.9:34602") {
		t.Fatalf("follower: %+v", resp)
	}
	// A leader without a Pegasus address is not named; clients then try
	// the other meta servers they know.
	r.fake.Update(func(f *metatest.Data) { f.Info.Metas[1].PegasusAddress = "" })
	r.clock.Advance(DefaultAddressTTL)
	if resp := r.query("t"); resp.Err != pegasusrpc.CodeForwardToOthers || len(resp.Partitions) != 0 {
		t.Fatalf("follower with an unmapped leader: %+v", resp)
	}
}

// The address mapping is fetched once per TTL, however many queries come;
// an address missing from it refetches at most every missRefreshInterval.
func TestAddressMappingCache(t *testing.T) {
	r := newMetaRig(t, MetaOptions{})
	r.fake.Update(func(f *metatest.Data) {
		f.Nodes = []*pb.NodeInfo{{Address: "10.0.0.1:34801", PegasusAddress: "10.0.0.1:34821"}}
	})
	r.fake.AddTable("t", 5, 2, []string{"10.0.0.1:34801"})
	for range 5 {
		r.query("t")
	}
	if n := r.fake.Calls(metatest.ListNodes); n != 1 {
		t.Fatalf("%d ListNodes for 5 queries within the TTL", n)
	}
	r.clock.Advance(DefaultAddressTTL)
	r.query("t")
	if n := r.fake.Calls(metatest.ListNodes); n != 2 {
		t.Fatalf("%d ListNodes after the TTL, want 2", n)
	}

	// A primary the mapping lacks (a replica without a Pegasus listener):
	// the invalid address, and a bounded number of refetches.
	r.fake.AddTable("u", 6, 2, []string{"10.0.0.7:34801"})
	for range 5 {
		if resp := r.query("u"); resp.Partitions[0].Primary != 0 {
			t.Fatalf("primary without a Pegasus address sent as %v", resp.Partitions[0].Primary)
		}
	}
	if n := r.fake.Calls(metatest.ListNodes); n != 2 {
		t.Fatalf("%d ListNodes after misses within %v, want 2", n, missRefreshInterval)
	}
	r.clock.Advance(missRefreshInterval)
	r.fake.Update(func(f *metatest.Data) {
		f.Nodes = append(f.Nodes, &pb.NodeInfo{Address: "10.0.0.7:34801", PegasusAddress: "10.0.0.7:34821"})
	})
	if resp := r.query("u"); resp.Partitions[0].Primary != rpcAddr(t, "10.0.0.7:34821") {
		t.Fatalf("primary after it gained a Pegasus address: %v", resp.Partitions[0].Primary)
	}
}

func TestAddressOverride(t *testing.T) {
	r := newMetaRig(t, MetaOptions{AddressOverride: func(grpcAddr string) (string, bool) {
		if grpcAddr == "10.0.0.1:34801" {
			return "127.0.0.1:5555", true
		}
		return "", false
	}})
	r.fake.Update(func(f *metatest.Data) {
		f.Nodes = []*pb.NodeInfo{{Address: "10.0.0.2:34801", PegasusAddress: "10.0.0.2:34821"}}
	})
	r.fake.AddTable("t", 5, 2, []string{"10.0.0.1:34801", "10.0.0.2:34801"})
	resp := r.query("t")
	if resp.Partitions[0].Primary != rpcAddr(t, "127.0.0.1:5555") || resp.Partitions[1].Primary != rpcAddr(t, "10.0.0.2:34821") {
		t.Fatalf("primaries with an override: %v, %v", resp.Partitions[0].Primary, resp.Partitions[1].Primary)
	}
}

func TestResolveAddress(t *testing.T) {
	b := newAddressBook(nil, nil, time.Second, time.Now)
	for _, tc := range []struct {
		pegasus, grpc, want string
	}{
		{"10.1.2.3:34821", "10.1.2.3:34801", "10.1.2.3:34821"},
		{"0.0.0.0:34821", "10.1.2.3:34801", "10.1.2.3:34821"},
		{":34821", "10.1.2.4:34801", "10.1.2.4:34821"},
		{"[::ffff:10.1.2.5]:34821", "x:1", "10.1.2.5:34821"},
		{"localhost:34821", "x:1", "127.0.0.1:34821"},
		{"[::1]:34821", "x:1", ""},         // IPv6: rpc_address cannot carry it
		{"0.0.0.0:34821", "0.0.0.0:1", ""}, // no host anywhere
		{"10.1.2.3:0", "x:1", ""},          // no port
		{"10.1.2.3", "x:1", ""},            // no port at all
		{"no-such-host.invalid:1", "x:1", ""},
	} {
		a, err := b.resolve(t.Context(), tc.pegasus, tc.grpc)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("resolve(%q, %q) = %v, want an error", tc.pegasus, tc.grpc, a)
		case tc.want != "" && (err != nil || a != rpcAddr(t, tc.want)):
			t.Errorf("resolve(%q, %q) = %v, %v; want %s", tc.pegasus, tc.grpc, a, err, tc.want)
		}
	}
}

// Without a meta server behind it, queries fail at the rpc level, which
// sends the clients to the other meta servers of their list.
func TestMetaBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h, err := NewMetaHandler(dead, MetaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := dialTestClient(t, serveListener(t, h, Config{}))
	resp, err := c.call(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: "t"})
	if err != nil || resp.Err != pegasusrpc.CodeNetworkFailure {
		t.Fatalf("query without a meta server: %v %v", resp.Err, err)
	}
}
