package replica

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pegasus-go/pegasus/internal/version"
)

// HTTP endpoints on http_listen:
//
//	GET /status   JSON: node, versions, lease, every replica's progress
//	GET /healthz  200 while the server runs
//	GET /metrics  Prometheus metrics: Options.MetricsHandler, by default
//	              the server's own series (internal/metrics, metrics.go)
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	if s.opts.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.opts.MetricsHandler)
	}
	return mux
}

// statusPage is the body of /status.
type statusPage struct {
	Node            string            `json:"node"`
	BinaryVersion   string            `json:"binary_version"`
	ProtocolVersion string            `json:"protocol_version"`
	StartTime       time.Time         `json:"start_time"`
	LeaseValid      bool              `json:"lease_valid"`
	LeaseExpires    time.Time         `json:"lease_expires,omitzero"`
	ClusterID       string            `json:"cluster_id"`
	Replicas        []replicaProgress `json:"replicas"`
	// Garbage lists the replicas moved aside, waiting for collection.
	Garbage []garbageDir `json:"garbage_replicas"`
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	page := statusPage{
		Node:            string(s.node),
		BinaryVersion:   version.Release(),
		ProtocolVersion: version.Current().String(),
		StartTime:       s.started.UTC(),
		LeaseValid:      s.leaseValid(),
		ClusterID:       s.clusterID(),
		Replicas:        []replicaProgress{},
		Garbage:         s.garbageList(),
	}
	if until := s.metaLeaseUntil(); until > 0 {
		// Shown on the wall clock; the lease itself runs on the monotonic one.
		page.LeaseExpires = s.now().Add(until.Sub(s.mono())).UTC()
	}
	for _, p := range s.partitionList() {
		page.Replicas = append(page.Replicas, p.progress())
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(page)
}
