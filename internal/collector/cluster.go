package collector

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// clusterCacheTTL is how long one meta server answer serves the cluster
// page: every open browser polls, and the meta server should see one
// query a second, not one per browser.
const clusterCacheTTL = time.Second

// NodeView is one replica server, as `nodes -d` shows it.
type NodeView struct {
	Address        string `json:"address"`
	Alive          bool   `json:"alive"`
	PrimaryCount   int32  `json:"primary_count"`
	SecondaryCount int32  `json:"secondary_count"`
	ReplicaCount   int32  `json:"replica_count"`
	BinaryVersion  string `json:"binary_version"`
	HTTPAddress    string `json:"http_address"`
}

// TableView is one table with its health, as `ls -d` shows it.
type TableView struct {
	AppID          int32  `json:"app_id"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	PartitionCount int32  `json:"partition_count"`
	ReplicaCount   int32  `json:"replica_count"`
	FullyHealthy   int32  `json:"fully_healthy"`
	Unhealthy      int32  `json:"unhealthy"`
	WriteUnhealthy int32  `json:"write_unhealthy"`
	ReadUnhealthy  int32  `json:"read_unhealthy"`
}

// OverrideView is a meta knob overriding the configuration file.
type OverrideView struct {
	Knob  string `json:"knob"`
	Value string `json:"value"`
	// Owner is "" for an operator's remote command, "rolling-update
	// <roll id>" for a rolling update's.
	Owner     string `json:"owner,omitempty"`
	ExpiresMS int64  `json:"expires_ms,omitempty"`
}

// ClusterView answers /api/cluster: what the meta leader says about the
// cluster. Errors name the parts that could not be read; the rest is
// still filled in. Overrides are the knobs set at run time: the page warns
// about each, since an override left behind (an abandoned roll's, a
// forgotten experiment) silently shadows the configuration file.
type ClusterView struct {
	TS          int64          `json:"ts"`
	ClusterName string         `json:"cluster_name"`
	Leader      string         `json:"leader"`
	MetaLevel   string         `json:"meta_level"`
	Overrides   []OverrideView `json:"overrides"`
	Nodes       []NodeView     `json:"nodes"`
	Tables      []TableView    `json:"tables"`
	Errors      []string       `json:"errors,omitempty"`
}

// clusterReader fetches ClusterView from the meta servers, at most once
// per clusterCacheTTL.
type clusterReader struct {
	metas *dial.Conns

	mu      sync.Mutex
	fetched time.Time
	view    ClusterView
}

func (c *clusterReader) read(ctx context.Context) ClusterView {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fetched.IsZero() && time.Since(c.fetched) < clusterCacheTTL {
		return c.view
	}
	c.view = fetchCluster(ctx, c.metas)
	c.fetched = time.Now()
	return c.view
}

func fetchCluster(ctx context.Context, metas *dial.Conns) ClusterView {
	v := ClusterView{TS: time.Now().Unix(), Overrides: []OverrideView{}, Nodes: []NodeView{}, Tables: []TableView{}}
	var mu sync.Mutex
	fail := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		v.Errors = append(v.Errors, what+": "+err.Error())
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		r, err := callMeta(ctx, metas, func(ctx context.Context, mc pb.MetaClient) (*pb.ClusterInfoResponse, error) {
			return mc.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
		})
		if err = errors.Join(err, metaErr(r.GetError())); err != nil {
			fail("cluster_info", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		v.ClusterName, v.Leader, v.MetaLevel = r.GetClusterName(), r.GetLeader(), r.GetMetaFunctionLevel()
		for _, o := range r.GetKnobOverrides() {
			v.Overrides = append(v.Overrides, OverrideView{Knob: o.GetKnob(), Value: o.GetValue(),
				Owner: o.GetOwner(), ExpiresMS: o.GetExpiresMs()})
		}
	})
	wg.Go(func() {
		r, err := callMeta(ctx, metas, func(ctx context.Context, mc pb.MetaClient) (*pb.ListNodesResponse, error) {
			return mc.ListNodes(ctx, &pb.ListNodesRequest{})
		})
		if err = errors.Join(err, metaErr(r.GetError())); err != nil {
			fail("nodes", err)
			return
		}
		nodes := make([]NodeView, 0, len(r.GetNodes()))
		for _, n := range r.GetNodes() {
			nodes = append(nodes, NodeView{
				Address: n.GetAddress(), Alive: n.GetAlive(),
				PrimaryCount: n.GetPrimaryCount(), SecondaryCount: n.GetSecondaryCount(), ReplicaCount: n.GetReplicaCount(),
				BinaryVersion: n.GetBinaryVersion(), HTTPAddress: n.GetHttpAddress(),
			})
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Address < nodes[j].Address })
		mu.Lock()
		defer mu.Unlock()
		v.Nodes = nodes
	})
	wg.Go(func() {
		r, err := callMeta(ctx, metas, func(ctx context.Context, mc pb.MetaClient) (*pb.ListTablesResponse, error) {
			return mc.ListTables(ctx, &pb.ListTablesRequest{})
		})
		if err = errors.Join(err, metaErr(r.GetError())); err != nil {
			fail("tables", err)
			return
		}
		tables := make([]TableView, 0, len(r.GetTables()))
		for _, th := range r.GetTables() {
			t := th.GetTable()
			tables = append(tables, TableView{
				AppID: t.GetAppId(), Name: t.GetName(), Status: tableStatus(t.GetStatus()),
				PartitionCount: t.GetPartitionCount(), ReplicaCount: t.GetReplicaCount(),
				FullyHealthy: th.GetFullyHealthy(), Unhealthy: th.GetUnhealthy(),
				WriteUnhealthy: th.GetWriteUnhealthy(), ReadUnhealthy: th.GetReadUnhealthy(),
			})
		}
		sort.Slice(tables, func(i, j int) bool { return tables[i].AppID < tables[j].AppID })
		mu.Lock()
		defer mu.Unlock()
		v.Tables = tables
	})
	wg.Wait()
	sort.Strings(v.Errors)
	return v
}

// tableStatus names a table status as the shell's ls does: AVAILABLE,
// DROPPED, ... without the AS_ prefix of the enum.
func tableStatus(s pb.TableStatus) string { return strings.TrimPrefix(s.String(), "AS_") }
