package shell

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/appenv"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// fakeMeta is an in-process Meta gRPC service whose answers the test sets:
// the shell's commands run against it over a real loopback connection.
type fakeMeta struct {
	pb.UnimplementedMetaServer
	addr string

	mu sync.Mutex
	// forwardTo, when set, makes every call answer ERR_FORWARD_TO_OTHERS
	// naming it, as a follower does.
	forwardTo string
	info      *pb.ClusterInfoResponse
	level     string
	nodes     []*pb.NodeInfo
	tables    map[string]*fakeTable
	drains    map[string][]string // node → proposal lines
	// healthyAfter is how many ListTables calls a created table takes to
	// become fully healthy; -1 never.
	healthyAfter int
	remote       func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse
	calls        []string
}

type fakeTable struct {
	health *pb.TableHealth
	parts  []*pb.PartitionConfiguration
	// waits also go to QueryConfig; health.Waits carries them in ListTables.
	waits []*pb.PartitionWait
	polls int // ListTables calls since creation, for healthyAfter
	grows bool
}

func startFakeMeta(t *testing.T) *fakeMeta {
	t.Helper()
	f := &fakeMeta{tables: make(map[string]*fakeTable), level: "steady", drains: make(map[string][]string)}
	f.addr = serve(t, func(s *grpc.Server) { pb.RegisterMetaServer(s, f) })
	f.info = &pb.ClusterInfoResponse{Leader: f.addr, Metas: []*pb.MetaServerInfo{{Address: f.addr, Leader: true}}}
	return f
}

// serve runs a gRPC server with the roles' server options on a loopback
// port until the test ends, and returns its address.
func serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	register(s)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// enter records the call and reports whether to forward it.
func (f *fakeMeta) enter(method string) *pb.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	if f.forwardTo != "" {
		return &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS, Primary: f.forwardTo}
	}
	return nil
}

func (f *fakeMeta) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeMeta) ClusterInfo(context.Context, *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	if e := f.enter("ClusterInfo"); e != nil {
		return &pb.ClusterInfoResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := proto.Clone(f.info).(*pb.ClusterInfoResponse)
	resp.MetaFunctionLevel = f.level
	return resp, nil
}

func (f *fakeMeta) ListNodes(context.Context, *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	if e := f.enter("ListNodes"); e != nil {
		return &pb.ListNodesResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &pb.ListNodesResponse{Nodes: f.nodes}, nil
}

func (f *fakeMeta) ListTables(context.Context, *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	if e := f.enter("ListTables"); e != nil {
		return &pb.ListTablesResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &pb.ListTablesResponse{}
	for _, t := range f.tables {
		if t.grows {
			t.polls++
			if f.healthyAfter >= 0 {
				t.health.FullyHealthy = min(t.health.Table.PartitionCount, int32(t.polls*int(t.health.Table.PartitionCount)/max(f.healthyAfter, 1)))
			}
		}
		resp.Tables = append(resp.Tables, t.health)
	}
	return resp, nil
}

func (f *fakeMeta) QueryConfig(_ context.Context, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	if e := f.enter("QueryConfig"); e != nil {
		return &pb.QueryConfigResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tables[req.GetTable()]
	if !ok {
		return &pb.QueryConfigResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST}}, nil
	}
	return &pb.QueryConfigResponse{Table: t.health.Table, Partitions: t.parts, Waits: t.waits}, nil
}

// DDDDiagnose lists the partitions of the fake's tables with no primary and
// no secondary, with their wait reasons; an assignment is recorded in calls
// and refused for a node not in the partition's last_drops.
func (f *fakeMeta) DDDDiagnose(_ context.Context, req *pb.DDDDiagnoseRequest) (*pb.DDDDiagnoseResponse, error) {
	if e := f.enter(fmt.Sprintf("DDDDiagnose %d.%d assign=%q allow_empty=%v by_operator=%v", req.GetAppId(),
		req.GetPartitionIndex(), req.GetAssignPrimary(), req.GetAllowEmpty(), req.GetOperator() != "")); e != nil {
		return &pb.DDDDiagnoseResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &pb.DDDDiagnoseResponse{}
	names := make([]string, 0, len(f.tables))
	for n := range f.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := f.tables[n]
		for _, p := range t.parts {
			if p.GetPrimary() != "" || len(p.GetSecondaries()) > 0 || len(p.GetLastDrops()) == 0 {
				continue
			}
			if req.GetAppId() > 0 && p.GetGpid().GetAppId() != req.GetAppId() {
				continue
			}
			pi := p.GetGpid().GetPartitionIndex()
			if req.GetPartitionIndex() >= 0 && pi != req.GetPartitionIndex() {
				continue
			}
			if node := req.GetAssignPrimary(); node != "" {
				if !slices.Contains(p.GetLastDrops(), node) {
					return &pb.DDDDiagnoseResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS,
						Message: "node holds no usable copy of the partition"}}, nil
				}
				resp.Proposed = fmt.Sprintf("propose --gpid %d.%d --type ASSIGN_PRIMARY -t %s -n %s", p.GetGpid().GetAppId(), pi, node, node)
				continue
			}
			info := &pb.DDDPartitionInfo{Config: p}
			for _, w := range t.waits {
				if w.GetPartitionIndex() == pi {
					info.Reason = w.GetReason()
				}
			}
			for i, d := range p.GetLastDrops() {
				n := &pb.DDDNodeInfo{Node: d, Alive: i == 0, Collected: i == 0,
					DropMemberBallot: p.GetBallot() - int64(len(p.GetLastDrops())-i)}
				if n.Collected {
					n.Report = &pb.ReplicaReport{MemberBallot: 3, Ballot: 3, LastCommittedDecree: 90, LastPreparedDecree: 92}
				}
				info.Dropped = append(info.Dropped, n)
			}
			resp.Partitions = append(resp.Partitions, info)
		}
	}
	return resp, nil
}

func (f *fakeMeta) CreateTable(_ context.Context, req *pb.CreateTableRequest) (*pb.CreateTableResponse, error) {
	if e := f.enter("CreateTable"); e != nil {
		return &pb.CreateTableResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tables[req.GetName()]; ok {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_EXIST, Message: "table already exists"}}, nil
	}
	id := int32(1)
	for _, t := range f.tables {
		id = max(id, t.health.Table.AppId+1)
	}
	info := &pb.TableInfo{Name: req.GetName(), AppId: id, PartitionCount: req.GetPartitionCount(),
		ReplicaCount: req.GetReplicaCount(), Status: pb.TableStatus_AS_AVAILABLE, Envs: req.GetEnvs()}
	f.tables[req.GetName()] = &fakeTable{health: &pb.TableHealth{Table: info, Unhealthy: info.PartitionCount}, grows: true}
	return &pb.CreateTableResponse{Table: info}, nil
}

func (f *fakeMeta) DropTable(_ context.Context, req *pb.DropTableRequest) (*pb.DropTableResponse, error) {
	if e := f.enter("DropTable"); e != nil {
		return &pb.DropTableResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tables[req.GetName()]; !ok {
		return &pb.DropTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST}}, nil
	}
	delete(f.tables, req.GetName())
	return &pb.DropTableResponse{}, nil
}

func (f *fakeMeta) MetaLevel(_ context.Context, req *pb.MetaLevelRequest) (*pb.MetaLevelResponse, error) {
	if e := f.enter("MetaLevel"); e != nil {
		return &pb.MetaLevelResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.level
	if req.GetLevel() != "" {
		f.level = req.GetLevel()
	}
	return &pb.MetaLevelResponse{OldLevel: old, Level: f.level}, nil
}

func (f *fakeMeta) drain(method string, req *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	if e := f.enter(method); e != nil {
		return &pb.DrainNodeResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		if n.GetAddress() != req.GetNode() {
			continue
		}
		// As the meta server: a run proposes the moves (a repeat finds
		// nothing left), a dry run only lists them; -a keeps one table's.
		key := method + " " + req.GetNode()
		props := slices.Clone(f.drains[key])
		if name := req.GetTable(); name != "" {
			t, ok := f.tables[name]
			if !ok {
				return &pb.DrainNodeResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST, Message: name}}, nil
			}
			prefix := fmt.Sprintf("--gpid %d.", t.health.GetTable().GetAppId())
			props = slices.DeleteFunc(props, func(p string) bool { return !strings.Contains(p, prefix) })
		}
		if !req.GetDryRun() {
			f.drains[key] = slices.DeleteFunc(f.drains[key], func(p string) bool { return slices.Contains(props, p) })
		}
		return &pb.DrainNodeResponse{Proposals: props}, nil
	}
	return &pb.DrainNodeResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unknown node " + req.GetNode()}}, nil
}

func (f *fakeMeta) MigrateNode(_ context.Context, req *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	return f.drain("MigrateNode", req)
}

func (f *fakeMeta) DowngradeNode(_ context.Context, req *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	return f.drain("DowngradeNode", req)
}

// Balance answers as the meta server: the proposal it would write for a
// partition it knows, ERR_INVALID_PARAMETERS otherwise.
func (f *fakeMeta) Balance(_ context.Context, req *pb.BalanceRequest) (*pb.BalanceResponse, error) {
	if e := f.enter("Balance"); e != nil {
		return &pb.BalanceResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := req.GetGpid()
	for _, t := range f.tables {
		if t.health.GetTable().GetAppId() != g.GetAppId() || g.GetPartitionIndex() >= t.health.GetTable().GetPartitionCount() {
			continue
		}
		line := fmt.Sprintf("propose --gpid %d.%d --type ADD_SECONDARY -t <primary> -n %s", g.GetAppId(), g.GetPartitionIndex(), req.GetTo())
		if req.GetType() == "move_pri" {
			line = fmt.Sprintf("propose --gpid %d.%d --type DOWNGRADE_TO_SECONDARY -t %s -n %s", g.GetAppId(), g.GetPartitionIndex(), req.GetFrom(), req.GetFrom())
		}
		return &pb.BalanceResponse{Proposals: []string{line}}, nil
	}
	return &pb.BalanceResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS,
		Message: fmt.Sprintf("unknown partition %d.%d", g.GetAppId(), g.GetPartitionIndex())}}, nil
}

func (f *fakeMeta) RemoteCommand(_ context.Context, req *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	if e := f.enter("RemoteCommand"); e != nil {
		return &pb.RemoteCommandResponse{Error: e}, nil
	}
	f.mu.Lock()
	remote := f.remote
	f.mu.Unlock()
	if remote == nil {
		return &pb.RemoteCommandResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unknown command " + req.GetCommand()}}, nil
	}
	return remote(req), nil
}

// fakeReplicaAdmin answers remote commands as a replica server.
type fakeReplicaAdmin struct {
	pb.UnimplementedReplicaAdminServer
	reply func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse
}

func (r *fakeReplicaAdmin) RemoteCommand(_ context.Context, req *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	return r.reply(req), nil
}

// fakeData is an in-memory DataClient: tables of records keyed by hash
// and sort key, with TTLs stored as given (no clock).
type fakeData struct {
	tables map[string]*fakeDataTable
}

type fakeRecord struct {
	value []byte
	ttl   time.Duration
}

type fakeDataTable struct {
	records map[string]map[string]fakeRecord
	// failWith, when set, fails every operation.
	failWith error
}

func newFakeData(tables ...string) *fakeData {
	d := &fakeData{tables: make(map[string]*fakeDataTable)}
	for _, t := range tables {
		d.tables[t] = &fakeDataTable{records: make(map[string]map[string]fakeRecord)}
	}
	return d
}

func (d *fakeData) Open(_ context.Context, table string) (DataTable, error) {
	t, ok := d.tables[table]
	if !ok {
		return nil, fmt.Errorf("open %q: %w", table, client.ErrTableNotFound)
	}
	return t, nil
}

func (d *fakeData) Close() error { return nil }

func (t *fakeDataTable) Get(_ context.Context, h, s []byte) ([]byte, bool, error) {
	if t.failWith != nil {
		return nil, false, t.failWith
	}
	r, ok := t.records[string(h)][string(s)]
	return r.value, ok, nil
}

func (t *fakeDataTable) Set(_ context.Context, h, s, v []byte, ttl time.Duration) error {
	if t.failWith != nil {
		return t.failWith
	}
	if t.records[string(h)] == nil {
		t.records[string(h)] = make(map[string]fakeRecord)
	}
	t.records[string(h)][string(s)] = fakeRecord{value: bytes.Clone(v), ttl: ttl}
	return nil
}

func (t *fakeDataTable) Del(_ context.Context, h, s []byte) error {
	if t.failWith != nil {
		return t.failWith
	}
	delete(t.records[string(h)], string(s))
	return nil
}

func (t *fakeDataTable) Exist(ctx context.Context, h, s []byte) (bool, error) {
	_, ok, err := t.Get(ctx, h, s)
	return ok, err
}

func (t *fakeDataTable) TTL(_ context.Context, h, s []byte) (time.Duration, bool, error) {
	if t.failWith != nil {
		return 0, false, t.failWith
	}
	r, ok := t.records[string(h)][string(s)]
	if !ok {
		return 0, false, nil
	}
	if r.ttl == 0 {
		return client.NoTTL, true, nil
	}
	return r.ttl, true, nil
}

func (t *fakeDataTable) sorted(h []byte) []string {
	var keys []string
	for k := range t.records[string(h)] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (t *fakeDataTable) MultiGet(_ context.Context, h []byte, sortKeys [][]byte, _ *client.MultiGetOptions) ([]client.KeyValue, bool, error) {
	if t.failWith != nil {
		return nil, false, t.failWith
	}
	var out []client.KeyValue
	for _, k := range t.sorted(h) {
		if len(sortKeys) > 0 && !slices.ContainsFunc(sortKeys, func(sk []byte) bool { return string(sk) == k }) {
			continue
		}
		out = append(out, client.KeyValue{SortKey: []byte(k), Value: t.records[string(h)][k].value})
	}
	return out, false, nil
}

// sliceIter iterates over records collected in advance, or fails.
type sliceIter struct {
	recs []client.Record
	pos  int
	err  error
}

func (it *sliceIter) Next() bool {
	if it.err != nil || it.pos >= len(it.recs) {
		return false
	}
	it.pos++
	return true
}
func (it *sliceIter) Record() client.Record { return it.recs[it.pos-1] }
func (it *sliceIter) Err() error            { return it.err }

func (t *fakeDataTable) Scan(_ context.Context, h, start, stop []byte, opts *client.ScanOptions) RecordIterator {
	if t.failWith != nil {
		return &sliceIter{err: t.failWith}
	}
	var o client.ScanOptions
	if opts != nil {
		o = *opts
	}
	it := &sliceIter{}
	for _, k := range t.sorted(h) {
		if k < string(start) || (o.StartExclusive && k == string(start)) {
			continue
		}
		if len(stop) > 0 && (k > string(stop) || (!o.StopInclusive && k == string(stop))) {
			continue
		}
		it.recs = append(it.recs, client.Record{HashKey: h, SortKey: []byte(k), Value: t.records[string(h)][k].value})
	}
	return it
}

// FullScan returns the records in hash key order; -p selects hash keys by
// their first byte modulo 2, a stand-in for partitions.
func (t *fakeDataTable) FullScan(_ context.Context, opts *client.FullScanOptions) RecordIterator {
	if t.failWith != nil {
		return &sliceIter{err: t.failWith}
	}
	var hashKeys []string
	for h := range t.records {
		if opts != nil && opts.OnePartition && int(h[0])%2 != opts.Partition {
			continue
		}
		hashKeys = append(hashKeys, h)
	}
	sort.Strings(hashKeys)
	it := &sliceIter{}
	for _, h := range hashKeys {
		for _, k := range t.sorted([]byte(h)) {
			r := client.Record{HashKey: []byte(h), SortKey: []byte(k), Value: t.records[h][k].value}
			if opts != nil && opts.NoValue {
				r.Value = nil
			}
			it.recs = append(it.recs, r)
		}
	}
	return it
}

func (t *fakeDataTable) MultiSet(ctx context.Context, h []byte, kvs []client.KeyValue, ttl time.Duration) error {
	for _, kv := range kvs {
		if err := t.Set(ctx, h, kv.SortKey, kv.Value, ttl); err != nil {
			return err
		}
	}
	return nil
}

func (t *fakeDataTable) MultiDel(ctx context.Context, h []byte, sortKeys [][]byte) error {
	for _, sk := range sortKeys {
		if err := t.Del(ctx, h, sk); err != nil {
			return err
		}
	}
	return nil
}

func (t *fakeDataTable) SortKeyCount(_ context.Context, h []byte) (int64, error) {
	if t.failWith != nil {
		return 0, t.failWith
	}
	return int64(len(t.records[string(h)])), nil
}

func (t *fakeDataTable) Incr(ctx context.Context, h, s []byte, delta int64, _ *client.IncrOptions) (int64, error) {
	v, _, err := t.Get(ctx, h, s)
	if err != nil {
		return 0, err
	}
	n := int64(0)
	if len(v) > 0 {
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, fmt.Errorf("incr: %w: value %q is not an integer", client.ErrInvalidArgument, v)
		}
	}
	n += delta
	return n, t.Set(ctx, h, s, []byte(strconv.FormatInt(n, 10)), t.records[string(h)][string(s)].ttl)
}

// CheckAndSet evaluates the checks the shell tests use.
func (t *fakeDataTable) CheckAndSet(ctx context.Context, h []byte, check client.Check, setSortKey, value []byte, opts *client.CheckAndSetOptions) (client.CheckAndSetResult, error) {
	cur, exists, err := t.Get(ctx, h, check.SortKey)
	if err != nil {
		return client.CheckAndSetResult{}, err
	}
	var pass bool
	switch check.Type {
	case client.CheckValueNotExist:
		pass = !exists
	case client.CheckValueExist:
		pass = exists
	case client.CheckValueBytesEqual:
		pass = exists && bytes.Equal(cur, check.Operand)
	case client.CheckValueIntLess:
		a, errA := strconv.ParseInt(string(cur), 10, 64)
		b, errB := strconv.ParseInt(string(check.Operand), 10, 64)
		pass = exists && errA == nil && errB == nil && a < b
	default:
		return client.CheckAndSetResult{}, fmt.Errorf("fake: check type %v not modelled", check.Type)
	}
	res := client.CheckAndSetResult{Applied: pass}
	if opts != nil && opts.ReturnCheckValue {
		res.CheckValueReturned, res.CheckValueExists, res.CheckValue = true, exists, cur
	}
	if pass {
		var ttl time.Duration
		if opts != nil {
			ttl = opts.TTL
		}
		return res, t.Set(ctx, h, setSortKey, value, ttl)
	}
	return res, nil
}

// newTestShell returns a shell on the given meta servers with a fake data
// client, printing into the returned buffer.
func newTestShell(t *testing.T, data *fakeData, metas ...string) (*Shell, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	s, err := New(Config{
		MetaServers:   metas,
		Out:           &out,
		DialTimeout:   time.Second,
		CreateTimeout: 5 * time.Second,
		PollInterval:  time.Millisecond,
		Location:      time.UTC,
		NewDataClient: func(context.Context, []string, time.Duration) (DataClient, error) { return data, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &out
}

// splitList splits a comma-separated test argument.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// UpdateAppEnv changes the table's envs as the meta server does, values
// checked by appenv.
func (f *fakeMeta) UpdateAppEnv(_ context.Context, req *pb.UpdateAppEnvRequest) (*pb.UpdateAppEnvResponse, error) {
	if e := f.enter("UpdateAppEnv"); e != nil {
		return &pb.UpdateAppEnvResponse{Error: e}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tables[req.GetAppName()]
	if !ok {
		return &pb.UpdateAppEnvResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST}}, nil
	}
	info := t.health.Table
	if info.Envs == nil {
		info.Envs = make(map[string]string)
	}
	hint := ""
	switch req.GetOp() {
	case pb.AppEnvOperation_APP_ENV_OP_SET:
		for i, k := range req.GetKeys() {
			if err := appenv.Validate(k, req.GetValues()[i]); err != nil {
				return &pb.UpdateAppEnvResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: err.Error()}}, nil
			}
		}
		for i, k := range req.GetKeys() {
			info.Envs[k] = req.GetValues()[i]
		}
	case pb.AppEnvOperation_APP_ENV_OP_DEL:
		for _, k := range req.GetKeys() {
			if _, ok := info.Envs[k]; !ok {
				hint = "not set, nothing deleted: " + k
			}
			delete(info.Envs, k)
		}
	case pb.AppEnvOperation_APP_ENV_OP_CLEAR:
		for k := range info.Envs {
			if strings.HasPrefix(k, req.GetClearPrefix()) {
				delete(info.Envs, k)
			}
		}
	}
	return &pb.UpdateAppEnvResponse{HintMessage: hint, Table: proto.Clone(info).(*pb.TableInfo)}, nil
}
