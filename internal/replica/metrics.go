package replica

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// The replica server's Prometheus series (internal/metrics) are updated
// here, each from the one place that knows the value:
//
//	requests, errors, latency  serveRequest, through the reply of each request
//	replicas, log bytes, lease the ticker, every dataDirCheckInterval
//	per-table log and storage  the ticker, from each replica's log directory
//	                           and Pebble's metrics
//	log fsync latency          mutlog's OnSync hook, per partition log
//	learn bytes                peer messages a learner receives, checkpoint chunks
//	beacon round trip          every answered beacon

// setDefaultMetrics gives a server its own registry when none was passed,
// and serves that registry at /metrics unless another handler was given:
// every replica server exports its series.
func (o *Options) setDefaultMetrics() {
	if o.Metrics == nil {
		o.Metrics = metrics.NewReplica()
	}
	if o.MetricsHandler == nil {
		o.MetricsHandler = o.Metrics.Handler()
	}
}

// clientOps is the oneof holding a client request's operation; its field
// names (get, multi_get, check_and_set, ...) label the request series.
var clientOps = (&pb.ClientRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("op")

// opName names a client request's operation, "none" for a request without.
func opName(req *pb.ClientRequest) string {
	fd := req.ProtoReflect().WhichOneof(clientOps)
	if fd == nil {
		return "none"
	}
	return string(fd.Name())
}

// instrumentReply wraps the reply of one client request so that answering it
// counts the request, its error code if it failed, and its latency from
// receipt to the answer being handed to the stream's sender. Every request is
// answered exactly once, so every request is counted once.
func (s *Server) instrumentReply(req *pb.ClientRequest, reply func(*pb.ClientResponse)) func(*pb.ClientResponse) {
	m := s.opts.Metrics
	appID := req.GetGpid().GetAppId()
	app, table, op := strconv.Itoa(int(appID)), s.tableName(appID), opName(req)
	received := time.Now()
	return func(resp *pb.ClientResponse) {
		m.Requests.WithLabelValues(app, table, op).Inc()
		if c := resp.GetError().GetCode(); c != pb.ErrorCode_ERR_OK {
			m.Errors.WithLabelValues(app, table, op, c.String()).Inc()
		}
		m.Latency.WithLabelValues(app, table, op).Observe(time.Since(received).Seconds())
		reply(resp)
	}
}

// tableName is the name of table appID as the meta server last described
// it, "" before it has.
func (s *Server) tableName(appID int32) string {
	if v, ok := s.tableNames.Load(appID); ok {
		return v.(string)
	}
	return ""
}

// replicaStatuses are the values of the replicas gauge's status label. All of
// them are set on every refresh, so a status no replica holds reads 0 rather
// than keeping its last count.
var replicaStatuses = []pb.PartitionStatus{
	pb.PartitionStatus_PS_PRIMARY, pb.PartitionStatus_PS_SECONDARY, pb.PartitionStatus_PS_POTENTIAL_SECONDARY,
	pb.PartitionStatus_PS_INACTIVE, pb.PartitionStatus_PS_ERROR,
}

// statusLabel turns PS_POTENTIAL_SECONDARY into potential_secondary.
func statusLabel(st pb.PartitionStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "PS_"))
}

// tableFigures are one table's per-table series, summed over its replicas.
type tableFigures struct {
	logBytes int64
	storage  storage.Stats
}

// refreshGauges recomputes the gauges that describe the server as a whole:
// replicas by status, the bytes of every mutation log, the lease, and per
// table the logs' size and the stores' Pebble figures. It runs on the
// ticker goroutine only, which owns s.storageSeen.
func (s *Server) refreshGauges(now time.Time) {
	m := s.opts.Metrics
	counts := make(map[pb.PartitionStatus]int, len(replicaStatuses))
	var logBytes int64
	tables := map[int32]*tableFigures{}
	seen := make(map[gpid]int64)
	for _, p := range s.partitionList() {
		counts[wireStatus(p.view.Load())]++
		n := s.logDirBytes(p)
		logBytes += n
		t := tables[p.g.app]
		if t == nil {
			t = &tableFigures{}
			tables[p.g.app] = t
		}
		t.logBytes += n
		st, err := p.store.Load().Stats()
		if err != nil {
			continue // closing: its figures go with it
		}
		t.storage.DiskBytes += st.DiskBytes
		t.storage.L0Files += st.L0Files
		t.storage.MemtableBytes += st.MemtableBytes
		// The compactions counter grows by what each store did since the
		// last refresh; a store reopened since counts from zero again.
		prev, ok := s.storageSeen[p.g]
		if !ok || st.Compactions < prev {
			prev = 0
		}
		t.storage.Compactions += st.Compactions - prev
		seen[p.g] = st.Compactions
	}
	s.storageSeen = seen
	for _, st := range replicaStatuses {
		m.Replicas.WithLabelValues(statusLabel(st)).Set(float64(counts[st]))
	}
	m.LogBytes.Set(float64(logBytes))
	// Tables no longer here (dropped, moved away) lose their gauges.
	for _, g := range []*prometheus.GaugeVec{m.TableLogBytes, m.StorageDiskBytes, m.StorageL0Files, m.StorageMemtableBytes} {
		g.Reset()
	}
	for appID, t := range tables {
		l := []string{strconv.Itoa(int(appID)), s.tableName(appID)}
		m.TableLogBytes.WithLabelValues(l...).Set(float64(t.logBytes))
		m.StorageDiskBytes.WithLabelValues(l...).Set(float64(t.storage.DiskBytes))
		m.StorageL0Files.WithLabelValues(l...).Set(float64(t.storage.L0Files))
		m.StorageMemtableBytes.WithLabelValues(l...).Set(float64(t.storage.MemtableBytes))
		m.StorageCompactions.WithLabelValues(l...).Add(float64(t.storage.Compactions))
	}
	lease := 0.0
	if s.leaseValid() {
		lease = 1
	}
	m.LeaseValid.Set(lease)
}

// logDirBytes sums the file sizes of a replica's log directory. It reads the
// directory rather than the open log, whose handle a checkpoint install may
// be swapping; a file removed between the listing and its stat (log GC) is
// simply not counted.
func (s *Server) logDirBytes(p *partition) int64 {
	dir := s.fs.PathJoin(p.dir, logDirName)
	names, err := s.fs.List(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, name := range names {
		if info, err := s.fs.Stat(s.fs.PathJoin(dir, name)); err == nil && !info.IsDir() {
			n += info.Size()
		}
	}
	return n
}

// observeLogSync records one group-commit fsync of any replica's log.
func (s *Server) observeLogSync(d time.Duration) {
	s.opts.Metrics.LogSyncSeconds.Observe(d.Seconds())
}

// countLearnMessage counts the entry bytes a peer message brings to a
// learner: the primary's first answer (LearnLog) and, while the replica is
// still a potential secondary, the prepares that follow it.
func (s *Server) countLearnMessage(p *partition, m pacifica.Message) {
	learning := m.Type == pacifica.MsgLearnLog ||
		(m.Type == pacifica.MsgPrepare && p.view.Load().status == pacifica.StatusPotentialSecondary)
	if !learning {
		return
	}
	var n int
	for _, e := range m.Entries {
		n += len(e.Data)
	}
	s.opts.Metrics.LearnBytes.Add(float64(n))
}

// countLearnBytes counts checkpoint bytes received while learning.
func (s *Server) countLearnBytes(n int) { s.opts.Metrics.LearnBytes.Add(float64(n)) }

// observeBeaconRTT records the round trip of an answered beacon.
func (s *Server) observeBeaconRTT(rtt time.Duration) {
	s.opts.Metrics.BeaconRTT.Observe(rtt.Seconds())
}
