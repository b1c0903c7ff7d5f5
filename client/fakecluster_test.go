package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// An in-process cluster for the client's tests: fake meta servers and fake
// replica servers on real loopback listeners, speaking the real gRPC
// contract, with the data of every partition held in maps shared by all
// replica servers (as if replication were instant). Tests steer it: move a
// partition's primary with or without telling the meta server, make the old
// primary answer with or without a hint, and inject faults per request
// through a hook on each replica server.

// refCRC64 is a bitwise CRC-64 with Pegasus' polynomial (reflected), written apart from
// the table-driven one the client uses so that each checks the other.
func refCRC64(b []byte) uint64 {
	crc := ^uint64(0)
	for _, x := range b {
		crc ^= uint64(x)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0x9A6C9329AC4BC9B5
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

type fakeCluster struct {
	t        testing.TB
	metas    []*fakeMeta
	replicas []*fakeReplica

	mu     sync.Mutex
	tables map[string]*fakeTable
	nextID int32
}

type fakeTable struct {
	name   string
	appID  int32
	status pb.TableStatus
	parts  []*fakePartition
}

// oldPrimaryAnswer is what a replica that lost a partition's primary role
// answers requests for it.
type oldPrimaryAnswer int

const (
	answerHint      oldPrimaryAnswer = iota // ERR_INVALID_STATE naming the new primary
	answerStaleHint                         // ERR_INVALID_STATE naming it at the old ballot
	answerNoHint                            // ERR_INVALID_STATE without a hint
	answerNotFound                          // ERR_OBJECT_NOT_FOUND
)

type fakePartition struct {
	pidx    int32
	primary string
	ballot  int64
	// What the meta server reports; it may lag behind primary/ballot.
	metaPrimary string
	metaBallot  int64
	oldAnswer   oldPrimaryAnswer

	data    map[string]fakeRecord // by encoded key: Pegasus order
	dedup   map[[2]uint64]*pb.ClientResponse
	applied int // writes applied, duplicates not counted
}

type fakeRecord struct {
	value    []byte
	expireAt time.Time // zero: never expires
}

func encodeKey(hashKey, sortKey []byte) string {
	b := make([]byte, 2, 2+len(hashKey)+len(sortKey))
	binary.BigEndian.PutUint16(b, uint16(len(hashKey)))
	b = append(b, hashKey...)
	return string(append(b, sortKey...))
}

func decodeKey(k string) (hashKey, sortKey []byte) {
	n := int(binary.BigEndian.Uint16([]byte(k[:2])))
	return []byte(k[2 : 2+n]), []byte(k[2+n:])
}

// newFakeCluster starts metas meta servers (the first is the leader, the
// others forward to it) and replicas replica servers.
func newFakeCluster(t testing.TB, metas, replicas int) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{t: t, tables: make(map[string]*fakeTable), nextID: 1}
	for i := range metas {
		meta, addr := metatest.Start(t)
		fc.metas = append(fc.metas, &fakeMeta{Meta: meta, addr: addr})
		if i > 0 {
			meta.Update(func(d *metatest.Data) { d.Leader = fc.metas[0].addr })
		}
	}
	for range replicas {
		r := &fakeReplica{fc: fc}
		r.addr = metatest.Serve(t, func(s *grpc.Server) { pb.RegisterReplicaClientServer(s, r) })
		fc.replicas = append(fc.replicas, r)
	}
	return fc
}

// createTable places partitions round-robin over the replica servers.
func (fc *fakeCluster) createTable(name string, partitions int) *fakeTable {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	ft := &fakeTable{name: name, appID: fc.nextID, status: pb.TableStatus_AS_AVAILABLE}
	fc.nextID++
	for i := range partitions {
		addr := fc.replicas[i%len(fc.replicas)].addr
		ft.parts = append(ft.parts, &fakePartition{
			pidx: int32(i), primary: addr, ballot: 1, metaPrimary: addr, metaBallot: 1,
			data: make(map[string]fakeRecord), dedup: make(map[[2]uint64]*pb.ClientResponse),
		})
	}
	fc.tables[name] = ft
	fc.publishLocked()
	return ft
}

// movePrimary makes to the primary of a partition at the next ballot. The
// old primary answers its requests as told; the meta server learns the move
// only if tellMeta.
func (fc *fakeCluster) movePrimary(table string, pidx int, to string, old oldPrimaryAnswer, tellMeta bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	p := fc.tables[table].parts[pidx]
	p.primary, p.ballot, p.oldAnswer = to, p.ballot+1, old
	if tellMeta {
		p.metaPrimary, p.metaBallot = to, p.ballot
		fc.publishLocked()
	}
}

// syncMeta tells the meta server about every move it has not heard of.
func (fc *fakeCluster) syncMeta(table string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, p := range fc.tables[table].parts {
		p.metaPrimary, p.metaBallot = p.primary, p.ballot
	}
	fc.publishLocked()
}

func (fc *fakeCluster) primaryOf(table string, pidx int) string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.tables[table].parts[pidx].primary
}

func (fc *fakeCluster) applied(table string, pidx int) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.tables[table].parts[pidx].applied
}

func (fc *fakeCluster) replica(addr string) *fakeReplica {
	for _, r := range fc.replicas {
		if r.addr == addr {
			return r
		}
	}
	fc.t.Fatalf("no replica server %s", addr)
	return nil
}

func (fc *fakeCluster) metaAddrs() []string {
	var addrs []string
	for _, m := range fc.metas {
		addrs = append(addrs, m.addr)
	}
	return addrs
}

func (fc *fakeCluster) metaQueries() int64 {
	var n int64
	for _, m := range fc.metas {
		n += int64(m.queries())
	}
	return n
}

// newClient connects a client with fast retries to the cluster; mutate
// adjusts the Config first.
func (fc *fakeCluster) newClient(mutate func(*Config)) *Client {
	fc.t.Helper()
	cfg := Config{
		MetaServers:      fc.metaAddrs(),
		OperationTimeout: 5 * time.Second,
		DialTimeout:      2 * time.Second,
		RoutingBackoff:   Backoff{Base: time.Millisecond, Cap: 20 * time.Millisecond, Jitter: 0.5},
		BusyBackoff:      Backoff{Base: time.Millisecond, Cap: 20 * time.Millisecond, Jitter: 0.5},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx, cfg)
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.t.Cleanup(func() { c.Close() })
	return c
}

func (fc *fakeCluster) open(c *Client, table string) *Table {
	fc.t.Helper()
	tbl, err := c.Open(context.Background(), table)
	if err != nil {
		fc.t.Fatal(err)
	}
	return tbl
}

// ---------------------------------------------------------------------------
// Meta server

// fakeMeta is one meta server: metatest's fake, answering from what the
// cluster last told it (publishLocked).
type fakeMeta struct {
	*metatest.Meta
	addr string
}

// queries is how many QueryConfig calls the meta server answered.
func (m *fakeMeta) queries() int { return m.Calls(metatest.QueryConfig) }

// publishLocked gives every meta server the partition configurations as
// the meta server knows them (metaPrimary, metaBallot).
func (fc *fakeCluster) publishLocked() {
	tables := map[string]*pb.QueryConfigResponse{}
	for _, ft := range fc.tables {
		resp := &pb.QueryConfigResponse{
			Table: &pb.TableInfo{Name: ft.name, AppId: ft.appID, PartitionCount: int32(len(ft.parts)), ReplicaCount: 3, Status: ft.status},
		}
		for _, p := range ft.parts {
			resp.Partitions = append(resp.Partitions, &pb.PartitionConfiguration{
				Gpid:    &pb.Gpid{AppId: ft.appID, PartitionIndex: p.pidx},
				Ballot:  p.metaBallot,
				Primary: p.metaPrimary,
			})
		}
		tables[ft.name] = resp
	}
	for _, m := range fc.metas {
		m.Update(func(d *metatest.Data) { d.Tables = tables })
	}
}

// ---------------------------------------------------------------------------
// Replica server

// fault is what a replica server's hook tells it to do with one request.
type fault struct {
	code       pb.ErrorCode // answer this error instead of serving
	hint       string       // with code: Error.primary
	hintBallot int64
	delay      time.Duration // reply late, concurrently with later requests
	dropBefore bool          // end the stream without serving the request
	dropAfter  bool          // serve (apply) it, then end the stream unanswered
	swallow    bool          // serve it and never answer
	noResult   bool          // serve it and answer OK without its result
}

type fakeReplica struct {
	pb.UnimplementedReplicaClientServer
	fc   *fakeCluster
	addr string

	hook atomic.Pointer[func(*pb.ClientRequest) fault]

	streams    atomic.Int64
	requests   atomic.Int64
	outOfOrder atomic.Int64 // replies sent after a reply to a later request
}

func (r *fakeReplica) setHook(h func(*pb.ClientRequest) fault) { r.hook.Store(&h) }

func (r *fakeReplica) Data(stream pb.ReplicaClient_DataServer) error {
	r.streams.Add(1)
	var (
		sendMu  sync.Mutex
		highest uint64
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	send := func(resp *pb.ClientResponse) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if resp.Id < highest {
			r.outOfOrder.Add(1)
		}
		highest = max(highest, resp.Id)
		stream.Send(resp)
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		r.requests.Add(1)
		var f fault
		if h := r.hook.Load(); h != nil {
			f = (*h)(req)
		}
		switch {
		case f.dropBefore:
			return status.Error(codes.Unavailable, "fake: stream dropped before serving")
		case f.code != pb.ErrorCode_ERR_OK:
			send(&pb.ClientResponse{Id: req.Id, Error: &pb.Error{Code: f.code, Primary: f.hint, Ballot: f.hintBallot}})
			continue
		}
		if f.delay > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-time.After(f.delay):
				case <-stream.Context().Done():
					return
				}
				resp := r.fc.serve(r.addr, req)
				if !f.swallow {
					send(resp)
				}
			}()
			continue
		}
		resp := r.fc.serve(r.addr, req)
		if f.noResult && resp.GetError().GetCode() == pb.ErrorCode_ERR_OK {
			resp.Result = nil
		}
		switch {
		case f.dropAfter:
			return status.Error(codes.Unavailable, "fake: stream dropped after serving")
		case f.swallow:
		default:
			send(resp)
		}
	}
}

// serve executes one request as the replica server at addr.
func (fc *fakeCluster) serve(addr string, req *pb.ClientRequest) *pb.ClientResponse {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	resp := &pb.ClientResponse{Id: req.Id}
	fail := func(code pb.ErrorCode, msg string) *pb.ClientResponse {
		resp.Error = &pb.Error{Code: code, Message: msg}
		return resp
	}
	var ft *fakeTable
	for _, t := range fc.tables {
		if t.appID == req.GetGpid().GetAppId() {
			ft = t
		}
	}
	pidx := req.GetGpid().GetPartitionIndex()
	if ft == nil || pidx < 0 || int(pidx) >= len(ft.parts) {
		return fail(pb.ErrorCode_ERR_OBJECT_NOT_FOUND, "no such partition here")
	}
	p := ft.parts[pidx]
	if p.primary != addr {
		switch p.oldAnswer {
		case answerHint:
			resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_STATE, Primary: p.primary, Ballot: p.ballot}
		case answerStaleHint:
			resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_STATE, Primary: p.primary, Ballot: p.ballot - 1}
		case answerNoHint:
			resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_STATE}
		case answerNotFound:
			resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_OBJECT_NOT_FOUND}
		}
		return resp
	}
	// The replica checks the routing the client computed, like the real one.
	if req.PartitionHash%uint64(len(ft.parts)) != uint64(pidx) {
		return fail(pb.ErrorCode_ERR_INVALID_PARAMETERS, "partition hash routes elsewhere")
	}
	if hk, sk, ok := routedKey(req); ok {
		want := refCRC64(hk)
		if len(hk) == 0 {
			want = refCRC64(sk)
		}
		if req.PartitionHash != want {
			return fail(pb.ErrorCode_ERR_INVALID_PARAMETERS, "partition hash is not the key's CRC64")
		}
	}
	if rid := req.GetRequestId(); rid != nil {
		key := [2]uint64{rid.ClientId, rid.Seq}
		if prior, ok := p.dedup[key]; ok {
			dup := proto.Clone(prior).(*pb.ClientResponse)
			dup.Id = req.Id
			return dup
		}
		defer func() {
			if resp.GetError().GetCode() == pb.ErrorCode_ERR_OK {
				p.applied++
			}
			p.dedup[key] = resp
		}()
	} else if isWrite(req) {
		return fail(pb.ErrorCode_ERR_INVALID_PARAMETERS, "write without a RequestID")
	}
	p.execute(req, resp)
	return resp
}

func isWrite(req *pb.ClientRequest) bool {
	switch req.GetOp().(type) {
	case *pb.ClientRequest_Set, *pb.ClientRequest_MultiSet, *pb.ClientRequest_Del, *pb.ClientRequest_MultiDel,
		*pb.ClientRequest_Incr, *pb.ClientRequest_CheckAndSet:
		return true
	}
	return false
}

// routedKey returns the keys a request is placed by, if it has them.
func routedKey(req *pb.ClientRequest) (hashKey, sortKey []byte, ok bool) {
	switch op := req.GetOp().(type) {
	case *pb.ClientRequest_Get:
		return op.Get.HashKey, op.Get.SortKey, true
	case *pb.ClientRequest_Exist:
		return op.Exist.HashKey, op.Exist.SortKey, true
	case *pb.ClientRequest_Ttl:
		return op.Ttl.HashKey, op.Ttl.SortKey, true
	case *pb.ClientRequest_Set:
		return op.Set.HashKey, op.Set.SortKey, true
	case *pb.ClientRequest_Del:
		return op.Del.HashKey, op.Del.SortKey, true
	case *pb.ClientRequest_Incr:
		return op.Incr.HashKey, op.Incr.SortKey, true
	case *pb.ClientRequest_MultiGet:
		return op.MultiGet.HashKey, nil, true
	case *pb.ClientRequest_MultiSet:
		return op.MultiSet.HashKey, nil, true
	case *pb.ClientRequest_MultiDel:
		return op.MultiDel.HashKey, nil, true
	case *pb.ClientRequest_SortKeyCount:
		return op.SortKeyCount.HashKey, nil, true
	case *pb.ClientRequest_CheckAndSet:
		return op.CheckAndSet.HashKey, nil, true
	case *pb.ClientRequest_Scan:
		if !op.Scan.Full {
			return op.Scan.HashKey, nil, true
		}
	}
	return nil, nil, false
}

func (p *fakePartition) get(hk, sk []byte) (fakeRecord, bool) {
	rec, ok := p.data[encodeKey(hk, sk)]
	if ok && !rec.expireAt.IsZero() && time.Now().After(rec.expireAt) {
		return fakeRecord{}, false
	}
	return rec, ok
}

func (p *fakePartition) put(hk, sk, value []byte, ttlSeconds int32) {
	rec := fakeRecord{value: bytes.Clone(value)}
	if ttlSeconds > 0 {
		rec.expireAt = time.Now().Add(time.Duration(ttlSeconds) * time.Second)
	}
	p.data[encodeKey(hk, sk)] = rec
}

// sortedKeys returns the live encoded keys with the given prefix, in order.
func (p *fakePartition) sortedKeys(prefix string) []string {
	var keys []string
	for k := range p.data {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			hk, sk := decodeKey(k)
			if _, ok := p.get(hk, sk); ok {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func (p *fakePartition) execute(req *pb.ClientRequest, resp *pb.ClientResponse) {
	ok := &pb.Error{Code: pb.ErrorCode_ERR_OK}
	resp.Error = ok
	write := &pb.ClientResponse_Write{Write: &pb.WriteResponse{Decree: int64(p.applied + 1)}}
	switch op := req.GetOp().(type) {
	case *pb.ClientRequest_Get:
		rec, found := p.get(op.Get.HashKey, op.Get.SortKey)
		resp.Result = &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: found, Value: rec.value}}
	case *pb.ClientRequest_Exist:
		_, found := p.get(op.Exist.HashKey, op.Exist.SortKey)
		resp.Result = &pb.ClientResponse_Exist{Exist: &pb.ExistResponse{Found: found}}
	case *pb.ClientRequest_Ttl:
		rec, found := p.get(op.Ttl.HashKey, op.Ttl.SortKey)
		ttl := int32(-1)
		if found && !rec.expireAt.IsZero() {
			ttl = int32((time.Until(rec.expireAt) + time.Second - 1) / time.Second)
		}
		resp.Result = &pb.ClientResponse_Ttl{Ttl: &pb.TTLResponse{Found: found, TtlSeconds: ttl}}
	case *pb.ClientRequest_Set:
		p.put(op.Set.HashKey, op.Set.SortKey, op.Set.Value, op.Set.TtlSeconds)
		resp.Result = write
	case *pb.ClientRequest_Del:
		delete(p.data, encodeKey(op.Del.HashKey, op.Del.SortKey))
		resp.Result = write
	case *pb.ClientRequest_MultiSet:
		for _, kv := range op.MultiSet.Kvs {
			p.put(op.MultiSet.HashKey, kv.SortKey, kv.Value, op.MultiSet.TtlSeconds)
		}
		resp.Result = write
	case *pb.ClientRequest_MultiDel:
		for _, sk := range op.MultiDel.SortKeys {
			delete(p.data, encodeKey(op.MultiDel.HashKey, sk))
		}
		resp.Result = write
	case *pb.ClientRequest_SortKeyCount:
		n := len(p.sortedKeys(encodeKey(op.SortKeyCount.HashKey, nil)))
		resp.Result = &pb.ClientResponse_SortKeyCount{SortKeyCount: &pb.SortKeyCountResponse{Count: int64(n)}}
	case *pb.ClientRequest_MultiGet:
		resp.Result = &pb.ClientResponse_MultiGet{MultiGet: p.multiGet(op.MultiGet)}
	case *pb.ClientRequest_Incr:
		in := op.Incr
		rec, found := p.get(in.HashKey, in.SortKey)
		var cur int64
		if found && len(rec.value) > 0 {
			v, err := strconv.ParseInt(string(rec.value), 10, 64)
			if err != nil {
				resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_DATA, Message: "value is not an integer"}
				return
			}
			cur = v
		}
		rec.value = []byte(strconv.FormatInt(cur+in.Increment, 10))
		switch {
		case in.ExpireSeconds > 0:
			rec.expireAt = time.Now().Add(time.Duration(in.ExpireSeconds) * time.Second)
		case in.ExpireSeconds < 0:
			rec.expireAt = time.Time{}
		}
		p.data[encodeKey(in.HashKey, in.SortKey)] = rec
		resp.Result = &pb.ClientResponse_Incr{Incr: &pb.IncrResponse{NewValue: cur + in.Increment}}
	case *pb.ClientRequest_CheckAndSet:
		resp.Result = &pb.ClientResponse_CheckAndSet{CheckAndSet: p.checkAndSet(op.CheckAndSet)}
	case *pb.ClientRequest_Scan:
		resp.Result = &pb.ClientResponse_Scan{Scan: p.scan(op.Scan)}
	default:
		resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unknown operation"}
	}
}

func (p *fakePartition) multiGet(req *pb.MultiGetRequest) *pb.MultiGetResponse {
	var keys []string
	if len(req.SortKeys) == 0 {
		keys = p.sortedKeys(encodeKey(req.HashKey, nil))
	} else {
		for _, sk := range req.SortKeys {
			if _, ok := p.get(req.HashKey, sk); ok {
				keys = append(keys, encodeKey(req.HashKey, sk))
			}
		}
		sort.Strings(keys)
	}
	out := &pb.MultiGetResponse{}
	for i, k := range keys {
		if req.MaxCount > 0 && i == int(req.MaxCount) {
			out.Incomplete = true
			break
		}
		_, sk := decodeKey(k)
		kv := &pb.KeyValue{SortKey: sk}
		if !req.NoValue {
			kv.Value = p.data[k].value
		}
		out.Kvs = append(out.Kvs, kv)
	}
	return out
}

func (p *fakePartition) checkAndSet(req *pb.CheckAndSetRequest) *pb.CheckAndSetResponse {
	rec, exists := p.get(req.HashKey, req.CheckSortKey)
	v, operand := rec.value, req.CheckOperand
	intCmp := func(pass func(a, b int64) bool) bool {
		a, err1 := strconv.ParseInt(string(v), 10, 64)
		b, err2 := strconv.ParseInt(string(operand), 10, 64)
		return exists && err1 == nil && err2 == nil && pass(a, b)
	}
	var pass bool
	switch req.CheckType {
	case pb.CheckType_CT_NO_CHECK:
		pass = true
	case pb.CheckType_CT_VALUE_NOT_EXIST:
		pass = !exists
	case pb.CheckType_CT_VALUE_NOT_EXIST_OR_EMPTY:
		pass = !exists || len(v) == 0
	case pb.CheckType_CT_VALUE_EXIST:
		pass = exists
	case pb.CheckType_CT_VALUE_NOT_EMPTY:
		pass = exists && len(v) > 0
	case pb.CheckType_CT_VALUE_MATCH_ANYWHERE:
		pass = exists && bytes.Contains(v, operand)
	case pb.CheckType_CT_VALUE_MATCH_PREFIX:
		pass = exists && bytes.HasPrefix(v, operand)
	case pb.CheckType_CT_VALUE_MATCH_POSTFIX:
		pass = exists && bytes.HasSuffix(v, operand)
	case pb.CheckType_CT_VALUE_BYTES_LESS:
		pass = exists && bytes.Compare(v, operand) < 0
	case pb.CheckType_CT_VALUE_BYTES_LESS_OR_EQUAL:
		pass = exists && bytes.Compare(v, operand) <= 0
	case pb.CheckType_CT_VALUE_BYTES_EQUAL:
		pass = exists && bytes.Equal(v, operand)
	case pb.CheckType_CT_VALUE_BYTES_GREATER_OR_EQUAL:
		pass = exists && bytes.Compare(v, operand) >= 0
	case pb.CheckType_CT_VALUE_BYTES_GREATER:
		pass = exists && bytes.Compare(v, operand) > 0
	case pb.CheckType_CT_VALUE_INT_LESS:
		pass = intCmp(func(a, b int64) bool { return a < b })
	case pb.CheckType_CT_VALUE_INT_LESS_OR_EQUAL:
		pass = intCmp(func(a, b int64) bool { return a <= b })
	case pb.CheckType_CT_VALUE_INT_EQUAL:
		pass = intCmp(func(a, b int64) bool { return a == b })
	case pb.CheckType_CT_VALUE_INT_GREATER_OR_EQUAL:
		pass = intCmp(func(a, b int64) bool { return a >= b })
	case pb.CheckType_CT_VALUE_INT_GREATER:
		pass = intCmp(func(a, b int64) bool { return a > b })
	}
	out := &pb.CheckAndSetResponse{SetSucceed: pass}
	if req.ReturnCheckValue {
		out.CheckValueReturned, out.CheckValueExist, out.CheckValue = true, exists, v
	}
	if pass {
		sk := req.CheckSortKey
		if req.SetDiffSortKey {
			sk = req.SetSortKey
		}
		p.put(req.HashKey, sk, req.SetValue, req.SetExpireSeconds)
	}
	return out
}

// scan serves one batch. The cursor is the last encoded key returned.
func (p *fakePartition) scan(req *pb.ScanRequest) *pb.ScanResponse {
	var keys []string
	if req.Full {
		keys = p.sortedKeys("")
	} else {
		keys = p.sortedKeys(encodeKey(req.HashKey, nil))
	}
	out := &pb.ScanResponse{}
	for _, k := range keys {
		if len(req.Cursor) > 0 && k <= string(req.Cursor) {
			continue
		}
		hk, sk := decodeKey(k)
		if !req.Full {
			if c := bytes.Compare(sk, req.StartSortKey); c < 0 || (c == 0 && !req.StartInclusive) {
				continue
			}
			if len(req.StopSortKey) > 0 {
				if c := bytes.Compare(sk, req.StopSortKey); c > 0 || (c == 0 && !req.StopInclusive) {
					break
				}
			}
		}
		if len(out.Records) == int(req.BatchSize) {
			last := out.Records[len(out.Records)-1]
			out.Cursor = []byte(encodeKey(last.HashKey, last.SortKey))
			return out
		}
		rec := &pb.ScanRecord{HashKey: hk, SortKey: sk}
		if !req.NoValue {
			rec.Value = p.data[k].value
		}
		out.Records = append(out.Records, rec)
	}
	return out
}
