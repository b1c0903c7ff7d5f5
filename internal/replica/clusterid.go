package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Cluster identity (the meta side is in meta/clusterid.go).
//
// A replica server belongs to the cluster whose id it keeps in
// <data_dir>/cluster_id. It joins on the first beacon a meta leader
// accepts: the id in the answer is written to that file (atomically and
// synced) before anything else of the answer is acted on. From then on:
//
//   - a meta server answering with another id, or with none (a meta server
//     of protocol 1.0, or a forger), is refused: its leases, configurations
//     and removals are ignored, an error is logged (at most every
//     refusalLogInterval per kind) and pegasus_replica_foreign_cluster_
//     refusals_total counts it. The beacon loop keeps trying, so pointing
//     the server back at its own meta servers heals it;
//   - pushes (UpdateConfig) and proposal answers must carry the same id;
//   - remote commands and peer streams carrying another id are refused.
//     Commands from operators' tools and streams from peers that have not
//     joined yet carry none and are let through (mutual TLS, not the
//     cluster id, authenticates them).
//
// Before joining, the server runs as protocol 1.0 did, so that a rolling
// upgrade (replica servers first, then meta servers) keeps working: a meta
// server without an id is obeyed, and the first meta server with one is
// joined. A server whose data_dir predates cluster ids joins only a meta
// server that knows every table it holds replicas of: the meta leader
// refuses a beacon without an id that reports tables it never had (listing
// them in BeaconResponse.unknown), so a meta server with an empty etcd
// namespace, or of another cluster, neither adopts that data nor tells the
// server to discard it.
//
// The only way to move a server to another cluster is by hand: stop it,
// move its data_dir away (or delete cluster_id and its replicas).

// clusterIDFile holds the id of the cluster the server joined.
const clusterIDFile = "cluster_id"

// refusalLogInterval spaces the error lines about a foreign meta server of
// one kind: loud, but not a line per beacon.
const refusalLogInterval = 30 * time.Second

// clusterState is the server's cluster membership.
type clusterState struct {
	mu sync.Mutex
	id string
	// lastLog is when a refusal of each kind was last logged.
	lastLog      map[string]time.Time
	legacyLogged bool
}

// readClusterID returns the id in dataDir's cluster_id file, or "" when
// the server has joined no cluster yet.
func readClusterID(fs vfs.FS, dataDir string) (string, error) {
	f, err := fs.Open(fs.PathJoin(dataDir, clusterIDFile))
	if isNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("replica: open %s: %w", clusterIDFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return "", fmt.Errorf("replica: read %s: %w", clusterIDFile, err)
	}
	id := strings.TrimSpace(string(data))
	if id == "" {
		return "", errorf(ErrCorruptInfo, "%s is empty", clusterIDFile)
	}
	return id, nil
}

// clusterID returns the id of the cluster the server joined, or "".
func (s *Server) clusterID() string {
	s.cluster.mu.Lock()
	defer s.cluster.mu.Unlock()
	return s.cluster.id
}

func (s *Server) setClusterID(id string) {
	s.cluster.mu.Lock()
	old := s.cluster.id
	s.cluster.id = id
	s.cluster.mu.Unlock()
	s.opts.Metrics.ClusterInfo.DeleteLabelValues(old)
	s.opts.Metrics.ClusterInfo.WithLabelValues(id).Set(1)
}

// join makes the server a member of the cluster the beacon answer resp
// comes from, if it may (JoinCheck). It reports whether the server joined;
// the id is on disk before it returns true.
func (s *Server) join(resp *pb.BeaconResponse) bool {
	id := resp.GetClusterId()
	unknown := make([]string, len(resp.GetUnknown()))
	for i, g := range resp.GetUnknown() {
		unknown[i] = fmt.Sprintf("%d.%d", g.GetAppId(), g.GetPartitionIndex())
	}
	if ok, err := JoinCheck(id, unknown, resp.GetAllowed()); !ok {
		if err != nil {
			s.refuse("join", err)
		}
		return false
	}
	if err := writeFileAtomic(s.fs, s.cfg.DataDir, clusterIDFile, []byte(id+"\n")); err != nil {
		s.log.Error("joining the cluster failed: cannot persist its id; retrying with the next beacon", "cluster_id", id, "err", err)
		return false
	}
	s.setClusterID(id)
	s.log.Info("joined cluster", "cluster_id", id, "file", s.fs.PathJoin(s.cfg.DataDir, clusterIDFile))
	return true
}

// JoinCheck decides whether a server that has joined no cluster joins
// cluster metaID, on a beacon answer of its meta leader: only an accepted
// beacon (allowed) joins, and only when the leader knows every table the
// server holds replicas of. unknown lists the reported partitions the
// leader does not know ("app.partition"); any makes the answer an error
// wrapping ErrForeignCluster: nothing of it may be applied or deleted. A
// refused beacon joins nothing yet, without an error. The replica server
// and the whole-system simulation (internal/sim) both decide with it.
func JoinCheck(metaID string, unknown []string, allowed bool) (bool, error) {
	if len(unknown) > 0 {
		return false, fmt.Errorf("%w: meta server of cluster %s does not know %d of the replicas in data_dir (first %s); "+
			"not joining it, nothing is applied or deleted", ErrForeignCluster, metaID, len(unknown), unknown[0])
	}
	return allowed, nil
}

// checkMeta decides whether a message of a meta server whose cluster id is
// metaID (kind names it: beacon, update_config, propose) may be acted on
// (CheckMetaClusterID), counting and logging a refusal.
func (s *Server) checkMeta(kind, metaID string) error {
	own := s.clusterID()
	if err := CheckMetaClusterID(kind, own, metaID); err != nil {
		return s.refuse(kind, err)
	}
	if own == "" && metaID == "" {
		s.cluster.mu.Lock()
		first := !s.cluster.legacyLogged
		s.cluster.legacyLogged = true
		s.cluster.mu.Unlock()
		if first {
			s.log.Warn("meta server sends no cluster id (protocol 1.0): obeying it without a cluster check until a meta server with one is joined")
		}
	}
	return nil
}

// CheckMetaClusterID decides whether a server that joined cluster own (""
// if none) may act on a message of a meta server whose cluster id is
// metaID; kind names the message (beacon, update_config, propose). The
// error wraps ErrForeignCluster. A server that joined no cluster obeys a
// meta server without an id (protocol 1.0) and takes nothing from one with
// an id but the beacon answer that joins it (JoinCheck). The replica
// server and the whole-system simulation (internal/sim) both decide with
// it.
func CheckMetaClusterID(kind, own, metaID string) error {
	switch {
	case own != "" && metaID == own:
		return nil
	case own != "" && metaID == "":
		return fmt.Errorf("%w: %s without a cluster id (a meta server of protocol 1.0?), this server joined cluster %s",
			ErrForeignCluster, kind, own)
	case own != "":
		return fmt.Errorf("%w: %s from cluster %s, this server joined cluster %s", ErrForeignCluster, kind, metaID, own)
	case metaID == "":
		return nil
	default:
		// Not joined, and the meta server has an id: only an accepted
		// beacon joins (join), nothing else is taken before that.
		return fmt.Errorf("%w: %s from cluster %s before this server joined a cluster", ErrForeignCluster, kind, metaID)
	}
}

// checkCaller refuses a remote command or a peer stream that carries
// another cluster's id. One without an id is let through (see above).
func (s *Server) checkCaller(kind, callerID string) error {
	own := s.clusterID()
	if callerID == "" || own == "" || callerID == own {
		return nil
	}
	return s.refuse(kind, fmt.Errorf("%w: %s from cluster %s, this server joined cluster %s", ErrForeignCluster, kind, callerID, own))
}

// checkPeerStream checks a peer stream's cluster id, as a gRPC status error.
func (s *Server) checkPeerStream(ctx context.Context) error {
	if err := s.checkCaller("peer", rpc.IncomingClusterID(ctx)); err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return nil
}

// refuse counts and logs a refused message, and returns err.
func (s *Server) refuse(kind string, err error) error {
	s.opts.Metrics.ClusterRefusals.WithLabelValues(kind).Inc()
	now := time.Now()
	s.cluster.mu.Lock()
	last, seen := s.cluster.lastLog[kind]
	loud := !seen || now.Sub(last) >= refusalLogInterval
	if loud {
		if s.cluster.lastLog == nil {
			s.cluster.lastLog = make(map[string]time.Time)
		}
		s.cluster.lastLog[kind] = now
	}
	s.cluster.mu.Unlock()
	if loud {
		s.log.Error("message from another cluster refused; nothing of it is applied", "kind", kind, "err", err)
	}
	return err
}

// isForeign reports whether err says a meta server belongs to another cluster.
func isForeign(err error) bool { return errors.Is(err, ErrForeignCluster) }
