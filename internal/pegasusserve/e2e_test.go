package pegasusserve

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

// The Pegasus protocol against a real cluster: a onebox of separate
// meta and replica processes, with this package's listeners started in
// the test process in front of their gRPC ports (the meta handler is told
// that each replica's Pegasus address is its in-test listener). Data
// written with either protocol reads back through the other.
func TestEndToEndOnebox(t *testing.T) {
	ob := testcluster.Start(t, onebox.Options{Metas: 1, Replicas: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	const table = "pegasus_protocol"
	if _, _, err := pegasustarget.EnsureTable(ctx, conns, pegasustarget.TableSpec{Name: table, PartitionCount: 4, ReplicaCount: 3}); err != nil {
		t.Fatal(err)
	}

	// A Pegasus listener in front of every replica server, and one in
	// front of the meta server that maps replicas to them.
	listeners := make(map[string]string) // replica gRPC address -> in-test Pegasus address
	for _, p := range ob.Replicas() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewReplicaHandler(p.Address, ReplicaOptions{ServerAddress: ln.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		l := NewListener(h, Config{})
		go l.Serve(ln)
		t.Cleanup(func() { l.Close() })
		listeners[p.Address] = ln.Addr().String()
	}
	mh, err := NewMetaHandler(ob.MetaAddrs()[0], MetaOptions{AddressOverride: func(grpcAddr string) (string, bool) {
		a, ok := listeners[grpcAddr]
		return a, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mh.Close() })
	peg := newPegasusTable(t, serveListener(t, mh, Config{}), table)

	// Configuration: every partition has a primary at one of our listeners.
	cfg := peg.config()
	if cfg.PartitionCount != 4 || len(cfg.Partitions) != 4 {
		t.Fatalf("query_cfg: %+v", cfg)
	}
	for _, p := range cfg.Partitions {
		ap, ok := p.Primary.AddrPort()
		if !ok || !slices.Contains(mapValues(listeners), ap.String()) {
			t.Fatalf("partition %v primary %v is not one of the listeners %v", p.Pid, p.Primary, listeners)
		}
	}

	// set / get / ttl.
	now := time.Now()
	expire := int32(pegasusNow(now) + 600)
	peg.call([]byte("peg"), pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: fullKey(t, "peg", "s"), Value: []byte("from pegasus"), ExpireTsSeconds: expire})
	key := pegasusrpc.Blob(fullKey(t, "peg", "s"))
	if got := peg.call([]byte("peg"), pegasusrpc.RPCGet, &key).(*pegasusrpc.ReadResponse); string(got.Value) != "from pegasus" {
		t.Fatalf("get: %+v", got)
	}
	if got := peg.call([]byte("peg"), pegasusrpc.RPCTTL, &key).(*pegasusrpc.TTLResponse); got.TTLSeconds < 590 || got.TTLSeconds > 600 {
		t.Fatalf("ttl: %+v", got)
	}

	// multi_put / multi_get / scan within the hash key.
	var kvs []pegasusrpc.KeyValue
	for i := range 30 {
		kvs = append(kvs, pegasusrpc.KeyValue{Key: fmt.Appendf(nil, "s%02d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	peg.call([]byte("multi"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("multi"), Kvs: kvs})
	mg := peg.call([]byte("multi"), pegasusrpc.RPCMultiGet, &pegasusrpc.MultiGetRequest{
		HashKey: []byte("multi"), StartSortkey: []byte("s10"), StopSortkey: []byte("s13"), StartInclusive: true, StopInclusive: true,
	}).(*pegasusrpc.MultiGetResponse)
	if mg.Error != pegasusrpc.StatusOK || kvString(mg.Kvs) != "s10=v10,s11=v11,s12=v12,s13=v13" {
		t.Fatalf("multi_get: %v %s", mg.Error, kvString(mg.Kvs))
	}
	scanned := peg.scan([]byte("multi"), &pegasusrpc.GetScannerRequest{
		StartKey: fullKey(t, "multi", ""), StopKey: fullKey(t, "multi", "\xff\xff"), StartInclusive: true, BatchSize: 7,
	})
	if len(scanned) != 30 || scanned[0] != "multi/s00=v0" || scanned[29] != "multi/s29=v29" {
		t.Fatalf("scan of the hash key: %d records %v", len(scanned), scanned)
	}

	// check_and_set / incr.
	cas := peg.call([]byte("cas"), pegasusrpc.RPCCheckAndSet, &pegasusrpc.CheckAndSetRequest{
		HashKey: []byte("cas"), CheckSortKey: []byte("k"), CheckType: pegasusrpc.CheckValueNotExist, SetValue: []byte("first"),
	}).(*pegasusrpc.CheckAndSetResponse)
	if cas.Error != pegasusrpc.StatusOK {
		t.Fatalf("check_and_set on an absent key: %+v", cas)
	}
	cas = peg.call([]byte("cas"), pegasusrpc.RPCCheckAndSet, &pegasusrpc.CheckAndSetRequest{
		HashKey: []byte("cas"), CheckSortKey: []byte("k"), CheckType: pegasusrpc.CheckValueNotExist, SetValue: []byte("second"), ReturnCheckValue: true,
	}).(*pegasusrpc.CheckAndSetResponse)
	if cas.Error != pegasusrpc.StatusTryAgain || string(cas.CheckValue) != "first" {
		t.Fatalf("check_and_set on a present key: %+v", cas)
	}
	for i, want := range []int64{3, 6} {
		got := peg.call([]byte("counter"), pegasusrpc.RPCIncr, &pegasusrpc.IncrRequest{Key: fullKey(t, "counter", "n"), Increment: 3}).(*pegasusrpc.IncrResponse)
		if got.Error != pegasusrpc.StatusOK || got.NewValue != want {
			t.Fatalf("incr %d: %+v", i, got)
		}
	}

	// Our Go client and the Pegasus protocol see the same data.
	gc, err := client.New(ctx, client.Config{MetaServers: ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	tbl, err := gc.Open(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	if v, found, err := tbl.Get(ctx, []byte("peg"), []byte("s")); err != nil || !found || string(v) != "from pegasus" {
		t.Fatalf("Go client reading a Pegasus write: %q %v %v", v, found, err)
	}
	if ttl, found, err := tbl.TTL(ctx, []byte("peg"), []byte("s")); err != nil || !found || ttl < 590*time.Second || ttl > 600*time.Second {
		t.Fatalf("Go client reading a Pegasus expire time: %v %v %v", ttl, found, err)
	}
	if n, err := tbl.Incr(ctx, []byte("counter"), []byte("n"), 1, nil); err != nil || n != 7 {
		t.Fatalf("Go client incrementing a Pegasus counter: %d %v", n, err)
	}
	if err := tbl.Set(ctx, []byte("go"), []byte("s"), []byte("from go"), time.Hour); err != nil {
		t.Fatal(err)
	}
	goKey := pegasusrpc.Blob(fullKey(t, "go", "s"))
	if got := peg.call([]byte("go"), pegasusrpc.RPCGet, &goKey).(*pegasusrpc.ReadResponse); string(got.Value) != "from go" {
		t.Fatalf("Pegasus reading a Go client write: %+v", got)
	}
	if got := peg.call([]byte("go"), pegasusrpc.RPCTTL, &goKey).(*pegasusrpc.TTLResponse); got.TTLSeconds < 3590 || got.TTLSeconds > 3600 {
		t.Fatalf("Pegasus reading a Go client TTL: %+v", got)
	}
	peg.call([]byte("go"), pegasusrpc.RPCRemove, &goKey)
	if _, found, err := tbl.Get(ctx, []byte("go"), []byte("s")); err != nil || found {
		t.Fatalf("Go client after a Pegasus remove: found %v, %v", found, err)
	}

	// Whole-partition scans (the unordered scanners) see every record.
	var all []string
	for _, p := range cfg.Partitions {
		all = append(all, peg.scanPartition(p.Pid, &pegasusrpc.GetScannerRequest{
			StartKey: []byte{0, 0}, StopKey: []byte{0xff, 0xff}, StartInclusive: true, BatchSize: 10, NoValue: true,
		})...)
	}
	slices.Sort(all)
	for _, want := range []string{"peg/s=", "multi/s00=", "multi/s29=", "cas/k=", "counter/n="} {
		if _, ok := slices.BinarySearch(all, want); !ok {
			t.Errorf("full scans lack %s", want)
		}
	}
	if len(all) != 33 {
		t.Errorf("full scans found %d records, want 33: %v", len(all), all)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// pegasusTable routes requests the way the official clients do: it asks
// the meta listener for the table's configuration, sends each request to
// the primary of partition hash % count, and on a routing error asks again
// and retries.
type pegasusTable struct {
	t    *testing.T
	meta *testClient
	name string

	mu       sync.Mutex
	cfg      *pegasusrpc.QueryCfgResponse
	replicas map[string]*testClient
}

func newPegasusTable(t *testing.T, metaAddr, name string) *pegasusTable {
	return &pegasusTable{t: t, meta: dialTestClient(t, metaAddr), name: name, replicas: make(map[string]*testClient)}
}

func (p *pegasusTable) config() *pegasusrpc.QueryCfgResponse {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg == nil {
		cfg := p.meta.mustCall(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: p.name}).(*pegasusrpc.QueryCfgResponse)
		if !cfg.Err.IsOK() {
			p.t.Fatalf("query_cfg: %s", cfg.Err)
		}
		p.cfg = cfg
	}
	return p.cfg
}

func (p *pegasusTable) forget() {
	p.mu.Lock()
	p.cfg = nil
	p.mu.Unlock()
}

// conn returns the connection to the primary of partition pidx.
func (p *pegasusTable) conn(pidx int32) (*testClient, pegasusrpc.Gpid, bool) {
	cfg := p.config()
	part := cfg.Partitions[pidx]
	ap, ok := part.Primary.AddrPort()
	if !ok {
		return nil, part.Pid, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.replicas[ap.String()]
	if c == nil {
		c = dialTestClient(p.t, ap.String())
		p.replicas[ap.String()] = c
	}
	return c, part.Pid, true
}

// callPartition sends one request to partition pidx, retrying on the
// errors that mean "routing changed" for up to a minute.
func (p *pegasusTable) callPartition(pidx int32, hash uint64, rpc pegasusrpc.RPC, args pegasusrpc.Value) pegasusrpc.Value {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c, gpid, ok := p.conn(pidx)
		var last string
		if ok {
			resp, err := c.call(gpid, hash, rpc, args)
			switch {
			case err == nil && resp.Err.IsOK():
				return resp.Result
			case err == nil && resp.Err != pegasusrpc.CodeObjectNotFound && resp.Err != pegasusrpc.CodeNetworkFailure:
				p.t.Fatalf("%s: %s", rpc, resp.Err)
			}
			last = fmt.Sprint(resp.Err, err)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no answer within a minute (last: %s)", rpc, last)
		}
		p.forget()
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *pegasusTable) call(hashKey []byte, rpc pegasusrpc.RPC, args pegasusrpc.Value) pegasusrpc.Value {
	p.t.Helper()
	hash := pegasusrpc.HashKeyHash(hashKey)
	return p.callPartition(pegasusrpc.PartitionIndex(hash, p.config().PartitionCount), hash, rpc, args)
}

func (p *pegasusTable) scan(hashKey []byte, g *pegasusrpc.GetScannerRequest) []string {
	p.t.Helper()
	hash := pegasusrpc.HashKeyHash(hashKey)
	return p.scanAll(pegasusrpc.PartitionIndex(hash, p.config().PartitionCount), hash, g)
}

func (p *pegasusTable) scanPartition(gpid pegasusrpc.Gpid, g *pegasusrpc.GetScannerRequest) []string {
	p.t.Helper()
	// The Go client's unordered scanners send the partition index as hash.
	return p.scanAll(gpid.PartitionIndex, uint64(gpid.PartitionIndex), g)
}

func (p *pegasusTable) scanAll(pidx int32, hash uint64, g *pegasusrpc.GetScannerRequest) []string {
	p.t.Helper()
	var out []string
	resp := p.callPartition(pidx, hash, pegasusrpc.RPCGetScanner, g).(*pegasusrpc.ScanResponse)
	for {
		if resp.Error != pegasusrpc.StatusOK {
			p.t.Fatalf("scan: status %v", resp.Error)
		}
		for _, kv := range resp.Kvs {
			hk, sk, _ := pegasusrpc.DecodeKey(kv.Key)
			out = append(out, fmt.Sprintf("%s/%s=%s", hk, sk, kv.Value))
		}
		if resp.ContextID < 0 {
			return out
		}
		resp = p.callPartition(pidx, hash, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: resp.ContextID}).(*pegasusrpc.ScanResponse)
	}
}
