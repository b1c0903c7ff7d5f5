package rolling

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/dial"
)

// Where names how a roll command reaches the cluster and the etcd keeping
// its roll: the meta servers (or a onebox directory holding their list),
// and optionally the etcd endpoints and cluster name, which default to
// those the meta server reports.
type Where struct {
	Metas         []string
	EtcdEndpoints []string
	ClusterName   string
	// Control is the node control specification; "onebox:<dir>" supplies
	// the meta servers when Metas is empty.
	Control string
	// LockTTL is the rolling lock's lease (DefaultLockTTL when zero).
	LockTTL time.Duration
	// Credentials reach the meta servers, the replica servers and etcd
	// (mutual TLS, an admin token).
	Credentials dial.Credentials
}

// MetaList returns the meta servers: w.Metas, else those of the onebox
// named by w.Control, else fallback.
func (w Where) MetaList(fallback []string) ([]string, error) {
	if len(w.Metas) > 0 {
		return w.Metas, nil
	}
	if dir, ok := strings.CutPrefix(w.Control, "onebox:"); ok {
		if list, err := onebox.ReadMetaServers(dir); err == nil {
			return list, nil
		}
	}
	if len(fallback) > 0 {
		return fallback, nil
	}
	return nil, fmt.Errorf("%w: no meta server given (--meta, or --control onebox:<dir>)", ErrNoCluster)
}

// Conn is a roll command's connection: the cluster (nil when no meta
// server answered and the store was named directly), what cluster_info
// said, and the store of the roll.
type Conn struct {
	// Remote is the cluster over gRPC; nil when no meta server was given.
	Remote *RemoteCluster
	Info   ClusterInfo
	Store  *EtcdStore
	Name   string
	etcd   *clientv3.Client
}

// Close releases the connections.
func (c *Conn) Close() {
	if c.Remote != nil {
		c.Remote.Close()
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
}

// Connect reaches the cluster and the etcd holding its roll. The meta
// server supplies the cluster name and etcd endpoints unless w gives
// them. With requireMeta false, a command about a stored roll (status,
// pause, resume, abort) still works when no meta server answers, as long
// as w names the etcd and the cluster.
func Connect(ctx context.Context, w Where, requireMeta bool) (*Conn, error) {
	c := &Conn{}
	direct := len(w.EtcdEndpoints) > 0 && w.ClusterName != ""
	metas, err := w.MetaList(nil)
	if err != nil && (requireMeta || !direct) {
		return nil, err
	}
	if len(metas) > 0 {
		c.Remote = DialCluster(metas, w.Credentials)
		ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c.Info, err = c.Remote.Info(ictx)
		cancel()
		if err != nil && (requireMeta || !direct) {
			c.Close()
			return nil, fmt.Errorf("%w: cluster_info: %w (name more meta servers with --meta, or the roll's etcd with --etcd-endpoints and --cluster-name)",
				ErrNoCluster, err)
		}
	}
	endpoints := w.EtcdEndpoints
	if len(endpoints) == 0 {
		endpoints = c.Info.EtcdEndpoints
	}
	c.Name = w.ClusterName
	if c.Name == "" {
		c.Name = c.Info.Name
	}
	if len(endpoints) == 0 || c.Name == "" {
		c.Close()
		return nil, fmt.Errorf("%w: the meta server reports no etcd endpoints or cluster name; give --etcd-endpoints and --cluster-name", ErrNoCluster)
	}
	c.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: w.Credentials.TLS})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: etcd %s: %w", ErrNoCluster, strings.Join(endpoints, ","), err)
	}
	c.Store = NewEtcdStore(c.etcd, c.Name, w.LockTTL)
	return c, nil
}

// ConnectStored connects for a command about the stored roll and loads
// it. The cluster is reached through the stored meta list when w names
// none, and every meta server of the plan is watched, including one that
// was down (and so unlisted) when cluster_info was read.
func ConnectStored(ctx context.Context, w Where) (*Conn, Record, error) {
	c, err := Connect(ctx, w, false)
	if err != nil {
		return nil, Record{}, err
	}
	rec, err := c.Store.Load(ctx)
	if err != nil {
		c.Close()
		return nil, Record{}, err
	}
	if c.Remote == nil {
		if len(rec.Run.Metas) == 0 {
			c.Close()
			return nil, Record{}, errors.New("rolling: the stored roll names no meta server; give --meta")
		}
		c.Remote = DialCluster(rec.Run.Metas, w.Credentials)
	}
	c.Remote.AddMetas(rec.State.Plan.Metas...)
	return c, rec, nil
}
