package pegasusserve

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// replicaRig is a ReplicaHandler behind a Listener on loopback, in front
// of a fake replica server, with a test client connected to it.
type replicaRig struct {
	t     *testing.T
	clock *fakeClock
	fake  *fakeReplica
	h     *ReplicaHandler
	addr  string
	c     *testClient
	gpid  pegasusrpc.Gpid
}

// listenerTimeout bounds each request of the replica rig: short, so that
// a stalled request ends quickly, long enough for a loaded machine.
const listenerTimeout = 2 * time.Second

func newReplicaRig(t *testing.T) *replicaRig {
	t.Helper()
	return newReplicaRigWith(t, ReplicaOptions{})
}

func newReplicaRigWith(t *testing.T, opts ReplicaOptions) *replicaRig {
	t.Helper()
	clock := newFakeClock()
	fake, grpcAddr := newFakeReplica(t, clock)
	opts.ServerAddress, opts.Now = "127.0.0.1:34801", clock.Now
	h, err := NewReplicaHandler(grpcAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	addr := serveListener(t, h, Config{DefaultTimeout: listenerTimeout})
	return &replicaRig{t: t, clock: clock, fake: fake, h: h, addr: addr, c: dialTestClient(t, addr), gpid: pegasusrpc.Gpid{AppID: 2, PartitionIndex: 0}}
}

// serveListener serves h on a loopback port until the test ends.
func serveListener(t testing.TB, h Handler, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(h, cfg)
	go l.Serve(ln)
	t.Cleanup(func() { l.Close() })
	return ln.Addr().String()
}

func (r *replicaRig) call(hashKey []byte, rpc pegasusrpc.RPC, args pegasusrpc.Value) pegasusrpc.Value {
	r.t.Helper()
	return r.c.mustCall(r.gpid, pegasusrpc.HashKeyHash(hashKey), rpc, args)
}

func fullKey(t testing.TB, hashKey, sortKey string) []byte {
	t.Helper()
	k, err := pegasusrpc.EncodeKey([]byte(hashKey), []byte(sortKey))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (r *replicaRig) put(hashKey, sortKey, value string, expireTS int32) *pegasusrpc.UpdateResponse {
	r.t.Helper()
	return r.call([]byte(hashKey), pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{
		Key: fullKey(r.t, hashKey, sortKey), Value: []byte(value), ExpireTsSeconds: expireTS,
	}).(*pegasusrpc.UpdateResponse)
}

func (r *replicaRig) get(hashKey, sortKey string) *pegasusrpc.ReadResponse {
	r.t.Helper()
	key := pegasusrpc.Blob(fullKey(r.t, hashKey, sortKey))
	return r.call([]byte(hashKey), pegasusrpc.RPCGet, &key).(*pegasusrpc.ReadResponse)
}

func (r *replicaRig) ttl(hashKey, sortKey string) *pegasusrpc.TTLResponse {
	r.t.Helper()
	key := pegasusrpc.Blob(fullKey(r.t, hashKey, sortKey))
	return r.call([]byte(hashKey), pegasusrpc.RPCTTL, &key).(*pegasusrpc.TTLResponse)
}

func (r *replicaRig) multiGet(m *pegasusrpc.MultiGetRequest) *pegasusrpc.MultiGetResponse {
	r.t.Helper()
	return r.call(m.HashKey, pegasusrpc.RPCMultiGet, m).(*pegasusrpc.MultiGetResponse)
}

// expireIn is the Pegasus expire time d from the rig's now.
func (r *replicaRig) expireIn(d time.Duration) int32 {
	return int32(pegasusNow(r.clock.Now()) + int64(d/time.Second))
}

func kvString(kvs []pegasusrpc.KeyValue) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, string(kv.Key)+"="+string(kv.Value))
	}
	return strings.Join(parts, ",")
}

func TestReplicaPutGetRemove(t *testing.T) {
	r := newReplicaRig(t)
	if resp := r.get("h", "s"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("get of a missing key: %+v", resp)
	}
	put := r.put("h", "s", "v1", 0)
	if put.Error != pegasusrpc.StatusOK || put.Decree <= 0 || put.AppID != 2 || put.PartitionIndex != 0 || put.Server != "127.0.0.1:34801" {
		t.Fatalf("put: %+v", put)
	}
	if resp := r.get("h", "s"); resp.Error != pegasusrpc.StatusOK || string(resp.Value) != "v1" || resp.Server != "127.0.0.1:34801" {
		t.Fatalf("get: %+v", resp)
	}
	// An empty value is a value, not an absence.
	r.put("h", "empty", "", 0)
	if resp := r.get("h", "empty"); resp.Error != pegasusrpc.StatusOK || len(resp.Value) != 0 {
		t.Fatalf("get of an empty value: %+v", resp)
	}
	key := pegasusrpc.Blob(fullKey(t, "h", "s"))
	if resp := r.call([]byte("h"), pegasusrpc.RPCRemove, &key).(*pegasusrpc.UpdateResponse); resp.Error != pegasusrpc.StatusOK || resp.Decree <= put.Decree {
		t.Fatalf("remove: %+v", resp)
	}
	if resp := r.get("h", "s"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("get after remove: %+v", resp)
	}
	// A full key shorter than its own hash key length is refused before
	// it reaches the replica.
	bad := pegasusrpc.Blob{0, 9, 'x'}
	before := len(r.fake.requests())
	if resp := r.call([]byte("x"), pegasusrpc.RPCGet, &bad).(*pegasusrpc.ReadResponse); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("get of a malformed key: %+v", resp)
	}
	if resp := r.call([]byte("x"), pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: bad}).(*pegasusrpc.UpdateResponse); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("put of a malformed key: %+v", resp)
	}
	if n := len(r.fake.requests()); n != before {
		t.Fatalf("malformed keys reached the replica: %d requests", n-before)
	}
}

func TestReplicaExpireTimes(t *testing.T) {
	r := newReplicaRig(t)
	r.put("h", "ttl", "v", r.expireIn(100*time.Second))
	if resp := r.ttl("h", "ttl"); resp.Error != pegasusrpc.StatusOK || resp.TTLSeconds != 100 {
		t.Fatalf("ttl: %+v", resp)
	}
	r.put("h", "forever", "v", 0)
	if resp := r.ttl("h", "forever"); resp.Error != pegasusrpc.StatusOK || resp.TTLSeconds != -1 {
		t.Fatalf("ttl of a record without expiry: %+v", resp)
	}
	if resp := r.ttl("h", "missing"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("ttl of a missing record: %+v", resp)
	}
	r.clock.Advance(101 * time.Second)
	if resp := r.get("h", "ttl"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("get after expiry: %+v", resp)
	}

	// A put whose expire time has passed deletes the record: Pegasus
	// would write it invisible.
	r.put("h", "old", "v", 0)
	if resp := r.put("h", "old", "new", r.expireIn(-time.Second)); resp.Error != pegasusrpc.StatusOK {
		t.Fatalf("put with a past expire time: %+v", resp)
	}
	if resp := r.get("h", "old"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("get after a put that expired at once: %+v", resp)
	}
	var sent []string
	for _, req := range r.fake.requests() {
		if string(req.GetSet().GetSortKey()) == "old" || string(req.GetDel().GetSortKey()) == "old" {
			sent = append(sent, fmt.Sprintf("%T", req.GetOp()))
		}
	}
	if want := []string{"*pb.ClientRequest_Set", "*pb.ClientRequest_Del"}; !slices.Equal(sent, want) {
		t.Fatalf("writes of the key sent as %v, want %v", sent, want)
	}

	// multi_put applies the request's expire time to every record.
	r.call([]byte("m"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{
		HashKey: []byte("m"), ExpireTsSeconds: r.expireIn(50 * time.Second),
		Kvs: []pegasusrpc.KeyValue{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}},
	})
	if resp := r.ttl("m", "b"); resp.TTLSeconds != 50 {
		t.Fatalf("ttl after multi_put: %+v", resp)
	}
	r.call([]byte("m"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{
		HashKey: []byte("m"), ExpireTsSeconds: r.expireIn(-10 * time.Second),
		Kvs: []pegasusrpc.KeyValue{{Key: []byte("a"), Value: []byte("x")}},
	})
	if resp := r.get("m", "a"); resp.Error != pegasusrpc.StatusNotFound {
		t.Fatalf("multi_put with a past expire time left %+v", resp)
	}
	if resp := r.get("m", "b"); resp.Error != pegasusrpc.StatusOK {
		t.Fatalf("multi_put with a past expire time removed a key it did not name: %+v", resp)
	}
}

func TestReplicaMultiPutRemoveCount(t *testing.T) {
	r := newReplicaRig(t)
	var kvs []pegasusrpc.KeyValue
	for i := range 5 {
		kvs = append(kvs, pegasusrpc.KeyValue{Key: fmt.Appendf(nil, "s%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	put := r.call([]byte("h"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("h"), Kvs: kvs}).(*pegasusrpc.UpdateResponse)
	if put.Error != pegasusrpc.StatusOK || put.Decree <= 0 {
		t.Fatalf("multi_put: %+v", put)
	}
	if resp := r.call([]byte("h"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("h")}).(*pegasusrpc.UpdateResponse); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("empty multi_put: %+v", resp)
	}
	hashKey := pegasusrpc.Blob("h")
	if resp := r.call([]byte("h"), pegasusrpc.RPCSortkeyCount, &hashKey).(*pegasusrpc.CountResponse); resp.Error != pegasusrpc.StatusOK || resp.Count != 5 {
		t.Fatalf("sortkey_count: %+v", resp)
	}
	rm := r.call([]byte("h"), pegasusrpc.RPCMultiRemove, &pegasusrpc.MultiRemoveRequest{
		HashKey: []byte("h"), SortKeys: [][]byte{[]byte("s1"), []byte("s3"), []byte("absent")},
	}).(*pegasusrpc.MultiRemoveResponse)
	if rm.Error != pegasusrpc.StatusOK || rm.Count != 3 || rm.Decree <= put.Decree {
		t.Fatalf("multi_remove: %+v", rm)
	}
	if resp := r.call([]byte("h"), pegasusrpc.RPCSortkeyCount, &hashKey).(*pegasusrpc.CountResponse); resp.Count != 3 {
		t.Fatalf("sortkey_count after multi_remove: %+v", resp)
	}
	if resp := r.call([]byte("h"), pegasusrpc.RPCMultiRemove, &pegasusrpc.MultiRemoveRequest{HashKey: []byte("h")}).(*pegasusrpc.MultiRemoveResponse); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("multi_remove without sort keys: %+v", resp)
	}
}

func TestReplicaIncr(t *testing.T) {
	r := newReplicaRig(t)
	incr := func(sortKey string, delta int64, expire int32) *pegasusrpc.IncrResponse {
		t.Helper()
		return r.call([]byte("h"), pegasusrpc.RPCIncr, &pegasusrpc.IncrRequest{Key: fullKey(t, "h", sortKey), Increment: delta, ExpireTsSeconds: expire}).(*pegasusrpc.IncrResponse)
	}
	if resp := incr("n", 5, 0); resp.Error != pegasusrpc.StatusOK || resp.NewValue != 5 {
		t.Fatalf("incr of a missing key: %+v", resp)
	}
	if resp := incr("n", -7, 0); resp.NewValue != -2 {
		t.Fatalf("incr: %+v", resp)
	}
	if resp := r.get("h", "n"); string(resp.Value) != "-2" {
		t.Fatalf("value after incr: %q", resp.Value)
	}
	// A positive expire time sets the TTL, 0 keeps it, negative clears it.
	incr("n", 1, r.expireIn(30*time.Second))
	if resp := r.ttl("h", "n"); resp.TTLSeconds != 30 {
		t.Fatalf("ttl after incr with an expire time: %+v", resp)
	}
	incr("n", 1, 0)
	if resp := r.ttl("h", "n"); resp.TTLSeconds != 30 {
		t.Fatalf("ttl after incr keeping it: %+v", resp)
	}
	incr("n", 1, -1)
	if resp := r.ttl("h", "n"); resp.TTLSeconds != -1 {
		t.Fatalf("ttl after incr clearing it: %+v", resp)
	}
	r.put("h", "text", "abc", 0)
	if resp := incr("text", 1, 0); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("incr of a non-integer: %+v", resp)
	}
}

func TestReplicaCheckAndSet(t *testing.T) {
	r := newReplicaRig(t)
	cas := func(req *pegasusrpc.CheckAndSetRequest) *pegasusrpc.CheckAndSetResponse {
		t.Helper()
		req.HashKey = []byte("h")
		return r.call([]byte("h"), pegasusrpc.RPCCheckAndSet, req).(*pegasusrpc.CheckAndSetResponse)
	}
	// Set "k" only if absent: passes once.
	resp := cas(&pegasusrpc.CheckAndSetRequest{CheckSortKey: []byte("k"), CheckType: pegasusrpc.CheckValueNotExist, SetValue: []byte("1"), ReturnCheckValue: true})
	if resp.Error != pegasusrpc.StatusOK || !resp.CheckValueReturned || resp.CheckValueExist || resp.Server == "" {
		t.Fatalf("first check_and_set: %+v", resp)
	}
	resp = cas(&pegasusrpc.CheckAndSetRequest{CheckSortKey: []byte("k"), CheckType: pegasusrpc.CheckValueNotExist, SetValue: []byte("2"), ReturnCheckValue: true})
	if resp.Error != pegasusrpc.StatusTryAgain || !resp.CheckValueExist || string(resp.CheckValue) != "1" {
		t.Fatalf("check_and_set whose check fails: %+v", resp)
	}
	if got := r.get("h", "k"); string(got.Value) != "1" {
		t.Fatalf("a failed check wrote %q", got.Value)
	}
	// Check one key, set another, with an expiry.
	resp = cas(&pegasusrpc.CheckAndSetRequest{
		CheckSortKey: []byte("k"), CheckType: pegasusrpc.CheckValueIntEqual, CheckOperand: []byte("1"),
		SetDiffSortKey: true, SetSortKey: []byte("other"), SetValue: []byte("x"), SetExpireTsSeconds: r.expireIn(20 * time.Second),
	})
	if resp.Error != pegasusrpc.StatusOK || resp.CheckValueReturned {
		t.Fatalf("check_and_set on another key: %+v", resp)
	}
	if got := r.ttl("h", "other"); got.Error != pegasusrpc.StatusOK || got.TTLSeconds != 20 {
		t.Fatalf("ttl of the key set: %+v", got)
	}
	// An integer comparison on a non-integer is an invalid argument.
	r.put("h", "text", "abc", 0)
	resp = cas(&pegasusrpc.CheckAndSetRequest{CheckSortKey: []byte("text"), CheckType: pegasusrpc.CheckValueIntLess, CheckOperand: []byte("5"), SetValue: []byte("y")})
	if resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("integer check on text: %+v", resp)
	}
	if resp := cas(&pegasusrpc.CheckAndSetRequest{CheckSortKey: []byte("k"), CheckType: 99}); resp.Error != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("unknown check type: %+v", resp)
	}

	// check_and_mutate is refused explicitly.
	cam := r.call([]byte("h"), pegasusrpc.RPCCheckAndMutate, &pegasusrpc.CheckAndMutateRequest{HashKey: []byte("h")}).(*pegasusrpc.CheckAndMutateResponse)
	if cam.Error != pegasusrpc.StatusNotSupported {
		t.Fatalf("check_and_mutate: %+v", cam)
	}
}

func TestReplicaMultiGetKeys(t *testing.T) {
	r := newReplicaRig(t)
	for _, s := range []string{"a", "b", "c", "d"} {
		r.put("h", s, "v"+s, 0)
	}
	keys := func(ks ...string) [][]byte {
		var out [][]byte
		for _, k := range ks {
			out = append(out, []byte(k))
		}
		return out
	}
	resp := r.multiGet(&pegasusrpc.MultiGetRequest{HashKey: []byte("h"), SortKeys: keys("d", "x", "a", "c")})
	if resp.Error != pegasusrpc.StatusOK || kvString(resp.Kvs) != "d=vd,a=va,c=vc" {
		t.Fatalf("multi_get of listed keys: %v %s", resp.Error, kvString(resp.Kvs))
	}
	resp = r.multiGet(&pegasusrpc.MultiGetRequest{HashKey: []byte("h"), SortKeys: keys("a", "b", "c"), NoValue: true, MaxKvCount: 2})
	if resp.Error != pegasusrpc.StatusIncomplete || kvString(resp.Kvs) != "a=,b=" {
		t.Fatalf("multi_get with a count limit: %v %s", resp.Error, kvString(resp.Kvs))
	}
	// Exactly as many keys as the limit is complete.
	resp = r.multiGet(&pegasusrpc.MultiGetRequest{HashKey: []byte("h"), SortKeys: keys("a", "b"), MaxKvCount: 2})
	if resp.Error != pegasusrpc.StatusOK || len(resp.Kvs) != 2 {
		t.Fatalf("multi_get at the count limit: %v %s", resp.Error, kvString(resp.Kvs))
	}
	// The size limit counts sort key and value bytes already taken.
	resp = r.multiGet(&pegasusrpc.MultiGetRequest{HashKey: []byte("h"), SortKeys: keys("a", "b", "c"), MaxKvSize: 4})
	if resp.Error != pegasusrpc.StatusIncomplete || kvString(resp.Kvs) != "a=va,b=vb" {
		t.Fatalf("multi_get with a size limit: %v %s", resp.Error, kvString(resp.Kvs))
	}

	// More keys than one replica request carries.
	var many [][]byte
	for i := range 2500 {
		many = append(many, fmt.Appendf(nil, "k%05d", i))
	}
	var kvs []pegasusrpc.KeyValue
	for i := 0; i < len(many); i += 7 {
		kvs = append(kvs, pegasusrpc.KeyValue{Key: many[i], Value: []byte("x")})
	}
	r.call([]byte("big"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("big"), Kvs: kvs})
	resp = r.multiGet(&pegasusrpc.MultiGetRequest{HashKey: []byte("big"), SortKeys: many})
	if resp.Error != pegasusrpc.StatusOK || len(resp.Kvs) != len(kvs) {
		t.Fatalf("multi_get of %d keys: %v, %d found, want %d", len(many), resp.Error, len(resp.Kvs), len(kvs))
	}
	for i, kv := range resp.Kvs {
		if !bytes.Equal(kv.Key, kvs[i].Key) {
			t.Fatalf("multi_get of many keys: result %d is %q, want %q", i, kv.Key, kvs[i].Key)
		}
	}
}

func TestReplicaMultiGetRange(t *testing.T) {
	r := newReplicaRig(t)
	var kvs []pegasusrpc.KeyValue
	for _, s := range []string{"a1", "a2", "b1", "b2", "b3", "c1"} {
		kvs = append(kvs, pegasusrpc.KeyValue{Key: []byte(s), Value: []byte(strings.ToUpper(s))})
	}
	r.call([]byte("h"), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("h"), Kvs: kvs})
	r.put("other", "a1", "not mine", 0)

	for _, tc := range []struct {
		name   string
		req    pegasusrpc.MultiGetRequest
		status pegasusrpc.StorageStatus
		want   string
	}{
		{"all", pegasusrpc.MultiGetRequest{StartInclusive: true}, pegasusrpc.StatusOK, "a1=A1,a2=A2,b1=B1,b2=B2,b3=B3,c1=C1"},
		{"half open", pegasusrpc.MultiGetRequest{StartSortkey: []byte("a2"), StopSortkey: []byte("b3"), StartInclusive: true}, pegasusrpc.StatusOK, "a2=A2,b1=B1,b2=B2"},
		{"open closed", pegasusrpc.MultiGetRequest{StartSortkey: []byte("a2"), StopSortkey: []byte("b3"), StopInclusive: true}, pegasusrpc.StatusOK, "b1=B1,b2=B2,b3=B3"},
		{"empty range", pegasusrpc.MultiGetRequest{StartSortkey: []byte("b"), StopSortkey: []byte("b"), StartInclusive: true}, pegasusrpc.StatusOK, ""},
		{"inverted range", pegasusrpc.MultiGetRequest{StartSortkey: []byte("c"), StopSortkey: []byte("a"), StartInclusive: true}, pegasusrpc.StatusOK, ""},
		{"prefix filter", pegasusrpc.MultiGetRequest{StartInclusive: true, SortKeyFilterType: pegasusrpc.FilterMatchPrefix, SortKeyFilterPattern: []byte("b")}, pegasusrpc.StatusOK, "b1=B1,b2=B2,b3=B3"},
		{"postfix filter", pegasusrpc.MultiGetRequest{StartInclusive: true, SortKeyFilterType: pegasusrpc.FilterMatchPostfix, SortKeyFilterPattern: []byte("1")}, pegasusrpc.StatusOK, "a1=A1,b1=B1,c1=C1"},
		{"anywhere filter, no value", pegasusrpc.MultiGetRequest{StartInclusive: true, NoValue: true, SortKeyFilterType: pegasusrpc.FilterMatchAnywhere, SortKeyFilterPattern: []byte("2")}, pegasusrpc.StatusOK, "a2=,b2="},
		{"count limit", pegasusrpc.MultiGetRequest{StartInclusive: true, MaxKvCount: 2}, pegasusrpc.StatusIncomplete, "a1=A1,a2=A2"},
		{"limit equals range", pegasusrpc.MultiGetRequest{StartSortkey: []byte("c"), StartInclusive: true, MaxKvCount: 1}, pegasusrpc.StatusOK, "c1=C1"},
		{"size limit", pegasusrpc.MultiGetRequest{StartInclusive: true, MaxKvSize: 5}, pegasusrpc.StatusIncomplete, "a1=A1,a2=A2"},
		{"reverse", pegasusrpc.MultiGetRequest{StartInclusive: true, Reverse: true}, pegasusrpc.StatusOK, "a1=A1,a2=A2,b1=B1,b2=B2,b3=B3,c1=C1"},
		{"reverse with count limit", pegasusrpc.MultiGetRequest{StartInclusive: true, Reverse: true, MaxKvCount: 2}, pegasusrpc.StatusIncomplete, "b3=B3,c1=C1"},
		{"reverse with size limit", pegasusrpc.MultiGetRequest{StartInclusive: true, Reverse: true, MaxKvSize: 5}, pegasusrpc.StatusIncomplete, "b3=B3,c1=C1"},
		{"reverse filtered range", pegasusrpc.MultiGetRequest{StopSortkey: []byte("c1"), StartInclusive: true, Reverse: true, MaxKvCount: 2, SortKeyFilterType: pegasusrpc.FilterMatchPrefix, SortKeyFilterPattern: []byte("a")}, pegasusrpc.StatusOK, "a1=A1,a2=A2"},
		// As in the C++ server, filtered-out records count against
		// max_kv_count: the answer is short and Incomplete.
		{"count limit with filter", pegasusrpc.MultiGetRequest{StartInclusive: true, MaxKvCount: 3, SortKeyFilterType: pegasusrpc.FilterMatchPostfix, SortKeyFilterPattern: []byte("1")}, pegasusrpc.StatusIncomplete, "a1=A1,b1=B1"},
		{"reverse count limit with filter", pegasusrpc.MultiGetRequest{StartInclusive: true, Reverse: true, MaxKvCount: 3, SortKeyFilterType: pegasusrpc.FilterMatchPostfix, SortKeyFilterPattern: []byte("1")}, pegasusrpc.StatusIncomplete, "c1=C1"},
		{"bad filter type", pegasusrpc.MultiGetRequest{StartInclusive: true, SortKeyFilterType: 9}, pegasusrpc.StatusInvalidArgument, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.HashKey = []byte("h")
			resp := r.multiGet(&req)
			if resp.Error != tc.status || kvString(resp.Kvs) != tc.want {
				t.Fatalf("got %v %q, want %v %q", resp.Error, kvString(resp.Kvs), tc.status, tc.want)
			}
		})
	}
}

func TestReplicaBatchGet(t *testing.T) {
	r := newReplicaRig(t)
	r.put("h1", "a", "1", 0)
	r.put("h2", "b", "2", 0)
	resp := r.call([]byte("h1"), pegasusrpc.RPCBatchGet, &pegasusrpc.BatchGetRequest{Keys: []pegasusrpc.FullKey{
		{HashKey: []byte("h1"), SortKey: []byte("a")},
		{HashKey: []byte("h1"), SortKey: []byte("missing")},
		{HashKey: []byte("h2"), SortKey: []byte("b")},
	}}).(*pegasusrpc.BatchGetResponse)
	if resp.Error != pegasusrpc.StatusOK || len(resp.Data) != 2 ||
		string(resp.Data[0].HashKey) != "h1" || string(resp.Data[0].Value) != "1" ||
		string(resp.Data[1].SortKey) != "b" || string(resp.Data[1].Value) != "2" {
		t.Fatalf("batch_get: %+v", resp)
	}
	// Each get carries its own key's partition hash.
	var hashes []uint64
	for _, req := range r.fake.requests() {
		if g := req.GetGet(); g != nil {
			hashes = append(hashes, req.GetPartitionHash())
		}
	}
	want := []uint64{pegasusrpc.HashKeyHash([]byte("h1")), pegasusrpc.HashKeyHash([]byte("h2"))}
	for _, w := range want {
		if !slices.Contains(hashes, w) {
			t.Fatalf("batch_get sent partition hashes %x, missing %x", hashes, w)
		}
	}
}

// Requests reach the replica with the partition and hash the client
// addressed, the client's remaining time, and writes with a request id.
func TestReplicaRequestsCarryRouting(t *testing.T) {
	r := newReplicaRig(t)
	r.gpid = pegasusrpc.Gpid{AppID: 7, PartitionIndex: 3}
	r.put("h", "s", "v", 0)
	r.get("h", "s")
	reqs := r.fake.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests reached the replica, want 2", len(reqs))
	}
	for _, req := range reqs {
		if req.GetGpid().GetAppId() != 7 || req.GetGpid().GetPartitionIndex() != 3 || req.GetPartitionHash() != pegasusrpc.HashKeyHash([]byte("h")) {
			t.Errorf("request routed to %v hash %x", req.GetGpid(), req.GetPartitionHash())
		}
		if req.GetTimeoutMs() == 0 || req.GetTimeoutMs() > 5000 {
			t.Errorf("timeout_ms %d, want the client's remaining time (at most 5000)", req.GetTimeoutMs())
		}
	}
	if rid := reqs[0].GetRequestId(); rid == nil || rid.GetSeq() == 0 {
		t.Errorf("write without a request id: %v", reqs[0])
	}
	if reqs[1].GetRequestId() != nil {
		t.Errorf("read with a request id: %v", reqs[1])
	}
}

// The replica's routing and overload errors reach the client as the
// Pegasus codes that drive its reaction; argument errors as storage
// statuses.
func TestReplicaErrorsOnTheWire(t *testing.T) {
	r := newReplicaRigWith(t, ReplicaOptions{RefusalRetryTime: -1})
	for _, tc := range []struct {
		code       pb.ErrorCode
		wantCode   pegasusrpc.ErrorCode
		wantStatus pegasusrpc.StorageStatus
	}{
		{pb.ErrorCode_ERR_INVALID_STATE, pegasusrpc.CodeObjectNotFound, 0},
		{pb.ErrorCode_ERR_OBJECT_NOT_FOUND, pegasusrpc.CodeObjectNotFound, 0},
		{pb.ErrorCode_ERR_INACTIVE_STATE, pegasusrpc.CodeObjectNotFound, 0},
		{pb.ErrorCode_ERR_TIMEOUT, pegasusrpc.CodeTimeout, 0},
		{pb.ErrorCode_ERR_UNKNOWN_OUTCOME, pegasusrpc.CodeTimeout, 0},
		{pb.ErrorCode_ERR_BUSY, pegasusrpc.CodeBusy, 0},
		{pb.ErrorCode_ERR_CAPACITY_EXCEEDED, pegasusrpc.CodeCapacityExceeded, 0},
		{pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER, pegasusrpc.CodeNotEnoughMember, 0},
		{pb.ErrorCode_ERR_INVALID_PARAMETERS, pegasusrpc.CodeOK, pegasusrpc.StatusInvalidArgument},
	} {
		r.fake.setFail(func(*pb.ClientRequest) *pb.Error { return &pb.Error{Code: tc.code} })
		key := pegasusrpc.Blob(fullKey(t, "h", "s"))
		resp, err := r.c.call(r.gpid, pegasusrpc.HashKeyHash([]byte("h")), pegasusrpc.RPCGet, &key)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Err != tc.wantCode {
			t.Errorf("%v: rpc error %s, want %s", tc.code, resp.Err, tc.wantCode)
			continue
		}
		if tc.wantCode.IsOK() {
			if got := resp.Result.(*pegasusrpc.ReadResponse).Error; got != tc.wantStatus {
				t.Errorf("%v: status %v, want %v", tc.code, got, tc.wantStatus)
			}
		}
	}
}

// An incr or check_and_set the replica answered OK without its result took
// effect, but what it did is lost: an unknown outcome, which Pegasus
// clients hear as a timeout (like ERR_UNKNOWN_OUTCOME), not ERR_UNKNOWN.
func TestReplicaWriteWithoutResultIsUnknownOutcome(t *testing.T) {
	r := newReplicaRig(t)
	r.fake.setFail(func(req *pb.ClientRequest) *pb.Error {
		if req.GetIncr() != nil || req.GetCheckAndSet() != nil {
			return &pb.Error{Code: pb.ErrorCode_ERR_OK}
		}
		return nil
	})
	hash := pegasusrpc.HashKeyHash([]byte("h"))
	resp, err := r.c.call(r.gpid, hash, pegasusrpc.RPCIncr, &pegasusrpc.IncrRequest{Key: fullKey(t, "h", "n"), Increment: 1})
	if err != nil || resp.Err != pegasusrpc.CodeTimeout {
		t.Fatalf("incr answered OK without a result: %v %v, want ERR_TIMEOUT", resp.Err, err)
	}
	resp, err = r.c.call(r.gpid, hash, pegasusrpc.RPCCheckAndSet, &pegasusrpc.CheckAndSetRequest{
		HashKey: []byte("h"), CheckSortKey: []byte("c"), CheckType: pegasusrpc.CheckValueNotExist, SetValue: []byte("v")})
	if err != nil || resp.Err != pegasusrpc.CodeTimeout {
		t.Fatalf("check_and_set answered OK without a result: %v %v, want ERR_TIMEOUT", resp.Err, err)
	}
}

// Refusals for the moment (a full queue, a reconciling primary, missing
// replicas) are retried at the replica, with the write's RequestID kept,
// while the client waits; the Pegasus code comes back only once the time
// for retries has passed.
func TestReplicaRetriesTransientRefusals(t *testing.T) {
	r := newReplicaRigWith(t, ReplicaOptions{RefusalRetryTime: 500 * time.Millisecond})
	var mu sync.Mutex
	refusals := 3
	r.fake.setFail(func(req *pb.ClientRequest) *pb.Error {
		mu.Lock()
		defer mu.Unlock()
		if refusals == 0 {
			return nil
		}
		refusals--
		return busy
	})
	if resp := r.put("h", "s", "v", 0); resp.Error != pegasusrpc.StatusOK {
		t.Fatalf("put through 3 refusals: %+v", resp)
	}
	var ids []string
	for i, req := range r.fake.requests() {
		id := req.GetRequestId()
		ids = append(ids, fmt.Sprintf("%d:%d", id.GetClientId(), id.GetSeq()))
		// Numbered sends: only the first skips the replica's lookup of an
		// applied original.
		if id.GetAttempt() != uint32(i+1) {
			t.Errorf("send %d carried attempt %d", i+1, id.GetAttempt())
		}
	}
	if len(ids) != 4 || ids[0] != ids[3] || ids[0] == "0:0" {
		t.Fatalf("attempts carried request ids %q, want 4 equal ones", ids)
	}

	r.fake.setFail(failAll(&pb.Error{Code: pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER}))
	key := pegasusrpc.Blob(fullKey(t, "h", "s"))
	resp, err := r.c.call(r.gpid, pegasusrpc.HashKeyHash([]byte("h")), pegasusrpc.RPCGet, &key)
	// The refusal itself, not ERR_TIMEOUT: the retries stopped while
	// there was time to answer.
	if err != nil || resp.Err != pegasusrpc.CodeNotEnoughMember {
		t.Fatalf("get refused throughout: %v %v", resp.Err, err)
	}
	if n := len(r.fake.requests()) - 4; n < 2 {
		t.Errorf("%d attempts of the refused get, want it retried", n)
	}
}

// A replica that does not answer in time: the client hears ERR_TIMEOUT
// once the request's deadline passes, and the connection stays usable.
func TestReplicaTimeout(t *testing.T) {
	r := newReplicaRig(t)
	r.fake.setStall(func(req *pb.ClientRequest) bool { return req.GetGet() != nil })
	key := pegasusrpc.Blob(fullKey(t, "h", "s"))
	req := r.c.request(r.gpid, pegasusrpc.HashKeyHash([]byte("h")), pegasusrpc.RPCGet, &key)
	req.Header.ClientTimeout = 100
	resp, err := r.c.wait(r.c.send(req))
	if err != nil || resp.Err != pegasusrpc.CodeTimeout {
		t.Fatalf("get to a stalled replica: %v %v", resp.Err, err)
	}
	if put := r.put("h", "s", "v", 0); put.Error != pegasusrpc.StatusOK {
		t.Fatalf("put after a timeout: %+v", put)
	}
}

// Without a replica server behind it, requests fail with a code the
// clients retry elsewhere, and nothing hangs.
func TestReplicaBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h, err := NewReplicaHandler(dead, ReplicaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := dialTestClient(t, serveListener(t, h, Config{}))
	key := pegasusrpc.Blob(fullKey(t, "h", "s"))
	resp, err := c.call(pegasusrpc.Gpid{AppID: 1}, 0, pegasusrpc.RPCGet, &key)
	if err != nil || resp.Err != pegasusrpc.CodeNetworkFailure {
		t.Fatalf("get without a replica server: %v %v", resp.Err, err)
	}
}

// A meta RPC sent to a replica server has no handler there.
func TestReplicaRefusesMetaRPC(t *testing.T) {
	r := newReplicaRig(t)
	resp, err := r.c.call(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: "t"})
	if err != nil || resp.Err != pegasusrpc.CodeHandlerNotFound {
		t.Fatalf("query_cfg at a replica: %v %v", resp.Err, err)
	}
}

// A request that fits the listener's frame limit but not a gRPC message
// (a listener configured above the 64 MiB default) is refused alone, as
// the replica refuses an oversized write: RocksDB InvalidArgument in the
// response, which the clients do not retry. It never reaches the replica,
// and the stream it would have gone on keeps serving.
func TestReplicaOversizeRequestRefused(t *testing.T) {
	clock := newFakeClock()
	fake, grpcAddr := newFakeReplica(t, clock)
	h, err := NewReplicaHandler(grpcAddr, ReplicaOptions{ServerAddress: "127.0.0.1:34801", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	addr := serveListener(t, h, Config{DefaultTimeout: listenerTimeout, MaxBodySize: 80 << 20})
	r := &replicaRig{t: t, clock: clock, fake: fake, h: h, addr: addr, c: dialTestClient(t, addr), gpid: pegasusrpc.Gpid{AppID: 2}}
	if resp := r.put("h", "before", "v", 0); resp.Error != pegasusrpc.StatusOK {
		t.Fatalf("put: %+v", resp)
	}

	huge := make([]byte, rpc.MaxMessageSize)
	resp, err := r.c.call(r.gpid, pegasusrpc.HashKeyHash([]byte("h")), pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: fullKey(t, "h", "huge"), Value: huge})
	if err != nil || resp.Err != pegasusrpc.CodeOK {
		t.Fatalf("oversized put: %v %v, want ERR_OK with a storage status", resp.Err, err)
	}
	if got := resp.Result.(*pegasusrpc.UpdateResponse).Error; got != pegasusrpc.StatusInvalidArgument {
		t.Fatalf("oversized put: status %v, want InvalidArgument", got)
	}
	if n := len(fake.requests()); n != 1 {
		t.Fatalf("%d requests reached the replica, want only the first put", n)
	}
	if resp := r.put("h", "after", "v", 0); resp.Error != pegasusrpc.StatusOK {
		t.Fatalf("put after the oversized one: %+v", resp)
	}
}
