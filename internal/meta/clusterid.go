package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cluster identity.
//
// cluster_name is a human name and the etcd namespace; nothing stops two
// clusters from sharing it (every onebox is "onebox"), and a typo in a
// configuration upgrade points a meta server at an empty namespace. The
// cluster id is what tells clusters apart on the wire: a random UUID the
// first meta server of a cluster writes under <cluster_name>/cluster_id with
// a create-if-absent transaction, so that two meta servers bootstrapping at
// once settle on one id. No code path changes or deletes it afterwards.
//
// Every meta <-> replica message carries it. The meta server refuses a
// beacon or a proposal of another id; a replica server persists the id of
// the cluster it joined and refuses any other meta server (replica/
// clusterid.go). A meta server with an empty namespace therefore gets a new
// id, which every replica server of the old cluster refuses, and nothing is
// deleted.

// clusterIDRetry paces the attempts to read or create the id while etcd
// does not answer.
const clusterIDRetry = time.Second

// loadClusterID returns the cluster's id, creating it when this is the
// first meta server of the cluster. It retries until etcd answers or ctx
// ends: a meta server that does not know its cluster's id cannot answer a
// single beacon safely.
func loadClusterID(ctx context.Context, cli *clientv3.Client, k keys, log func(msg string, args ...any)) (id string, created bool, err error) {
	for attempt := 1; ; attempt++ {
		id, created, err = loadClusterIDOnce(ctx, cli, k)
		if err == nil {
			return id, created, nil
		}
		log("reading the cluster id from etcd failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return "", false, fmt.Errorf("meta: read the cluster id: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(clusterIDRetry):
		}
	}
}

func loadClusterIDOnce(ctx context.Context, cli *clientv3.Client, k keys) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fresh := uuid.NewString()
	key := k.clusterID()
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, fresh)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return "", false, err
	}
	if resp.Succeeded {
		return fresh, true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 || len(kvs[0].Value) == 0 {
		return "", false, fmt.Errorf("%w: %s is empty", ErrCorruptRecord, key)
	}
	if _, err := uuid.Parse(string(kvs[0].Value)); err != nil {
		return "", false, fmt.Errorf("%w: %s = %q: %w", ErrCorruptRecord, key, kvs[0].Value, err)
	}
	return string(kvs[0].Value), false, nil
}

// clusterID returns the cluster's id, or "" until the server read it.
func (s *Server) clusterID() string {
	if id := s.clusterIDValue.Load(); id != nil {
		return *id
	}
	return ""
}

// adoptClusterID reads the cluster's id from etcd (creating it for a new
// cluster) and hands it to the controller. It retries until etcd answers;
// false means ctx ended first.
func (s *Server) adoptClusterID(ctx context.Context) bool {
	id, created, err := loadClusterID(ctx, s.cli, s.keys, s.log.Warn)
	if err != nil {
		return false
	}
	s.ctl.SetClusterID(id)
	s.clusterIDValue.Store(&id)
	s.metrics.ClusterInfo.WithLabelValues(id, s.cfg.ClusterName).Set(1)
	if created {
		s.log.Info("cluster bootstrapped: new cluster id written to etcd", "cluster", s.cfg.ClusterName, "cluster_id", id)
	} else {
		s.log.Info("cluster id read from etcd", "cluster", s.cfg.ClusterName, "cluster_id", id)
	}
	return true
}

// clusterIDUnknown is the answer to a message that carries a cluster id
// while this server has not read its own: it can neither check the
// message nor lead, so the caller is sent on as by a follower. nil once
// the id is known.
func (s *Server) clusterIDUnknown() error {
	if s.clusterID() != "" {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrClusterIDUnknown, &NotLeaderError{Leader: s.ctl.Leader()})
}

// checkClusterID refuses a caller that sent another cluster's id
// (CheckClusterID), counting and logging the refusal.
func (s *Server) checkClusterID(kind, node, got string) error {
	own := s.clusterID()
	if err := CheckClusterID(kind, node, s.cfg.ClusterName, own, got); err != nil {
		s.metrics.ClusterRefusals.WithLabelValues(kind).Inc()
		s.log.Error("message from another cluster refused", "kind", kind, "node", node, "their_cluster_id", got, "cluster_id", own)
		return err
	}
	return nil
}

// CheckClusterID refuses a message (kind, from node) carrying cluster id
// got when this cluster (named name) has id own; the error wraps
// ErrClusterIDMismatch. An empty id is let through here: who may send none
// is decided per message (a beacon without one is checked by the
// controller, see Beacon). The meta server and the whole-system simulation
// (internal/sim) both decide with it.
func CheckClusterID(kind, node, name, own, got string) error {
	if got == "" || got == own {
		return nil
	}
	return fmt.Errorf("%w: %s from %s carries cluster id %s, this cluster (%s) is %s",
		ErrClusterIDMismatch, kind, node, got, name, own)
}
