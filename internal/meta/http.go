package meta

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// The HTTP API, JSON only:
//
//	GET /healthz            200 while the server runs, leader or not
//	GET /api/cluster        cluster_info
//	GET /api/nodes          nodes -d
//	GET /api/tables         ls -d
//	GET /api/tables/{name}  the table and its partition configurations
//
// The /api endpoints need the leader's cache: a follower redirects
// (307) to the leader's HTTP address when it knows it, else answers 503.
// The cluster web page and /metrics are mounted with Server.Handle.
func (s *Server) registerHTTP() {
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /api/cluster", s.leaderOnly(s.handleCluster))
	s.mux.HandleFunc("GET /api/nodes", s.leaderOnly(s.handleNodes))
	s.mux.HandleFunc("GET /api/tables", s.leaderOnly(s.handleTables))
	s.mux.HandleFunc("GET /api/tables/{name}", s.leaderOnly(s.handleTable))
}

type healthJSON struct {
	Status   string `json:"status"`
	Address  string `json:"address"`
	IsLeader bool   `json:"is_leader"`
	Leader   string `json:"leader"`
}

type clusterJSON struct {
	ClusterName       string       `json:"cluster_name"`
	ClusterID         string       `json:"cluster_id"`
	Leader            string       `json:"leader"`
	MetaFunctionLevel string       `json:"meta_function_level"`
	EffectiveLevel    string       `json:"effective_level"`
	FreezeReason      string       `json:"freeze_reason,omitempty"`
	BalanceOperations int          `json:"balance_operation_count"`
	WaitingPartitions int          `json:"waiting_partitions"`
	PrimaryStddev     float64      `json:"primary_replica_count_stddev"`
	TotalStddev       float64      `json:"total_replica_count_stddev"`
	AliveNodes        int          `json:"alive_node_count"`
	TotalNodes        int          `json:"total_node_count"`
	Tables            int          `json:"table_count"`
	Partitions        int          `json:"partition_count"`
	EtcdEndpoints     []string     `json:"etcd_endpoints"`
	MetaServers       []metaRecord `json:"meta_servers"`
}

type nodeJSON struct {
	Address         string `json:"address"`
	Status          string `json:"status"`
	Fenced          bool   `json:"fenced,omitempty"`
	ReplicaCount    int    `json:"replica_count"`
	PrimaryCount    int    `json:"primary_count"`
	SecondaryCount  int    `json:"secondary_count"`
	LearnerCount    int    `json:"learner_count"`
	ProtocolVersion string `json:"protocol_version,omitempty"`
	BinaryVersion   string `json:"binary_version,omitempty"`
	HTTPAddress     string `json:"http_address,omitempty"`
	PegasusAddress  string `json:"pegasus_address,omitempty"`
	LastBeaconMs    int64  `json:"last_beacon_ms,omitempty"`
}

type tableJSON struct {
	AppID          int32             `json:"app_id"`
	Name           string            `json:"app_name"`
	Status         string            `json:"status"`
	PartitionCount int32             `json:"partition_count"`
	ReplicaCount   int32             `json:"replica_count"`
	Envs           map[string]string `json:"envs,omitempty"`
	CreateTimeMs   int64             `json:"create_time_ms"`
	FullyHealthy   *int              `json:"fully_healthy,omitempty"`
	Unhealthy      *int              `json:"unhealthy,omitempty"`
	WriteUnhealthy *int              `json:"write_unhealthy,omitempty"`
	ReadUnhealthy  *int              `json:"read_unhealthy,omitempty"`
	// Unavailable says why partitions without a primary have none.
	Unavailable []unavailableJSON `json:"unavailable,omitempty"`
}

type unavailableJSON struct {
	PartitionIndex int32  `json:"partition_index"`
	Reason         string `json:"reason"`
}

type tableDetailJSON struct {
	Table      tableJSON         `json:"table"`
	Partitions []partitionRecord `json:"partitions"`
}

func unavailableView(ws []PartitionWait) []unavailableJSON {
	var out []unavailableJSON
	for _, w := range ws {
		out = append(out, unavailableJSON{PartitionIndex: w.Index, Reason: w.Reason})
	}
	return out
}

type errorJSON struct {
	Error  string `json:"error"`
	Leader string `json:"leader,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok", Address: s.addr, IsLeader: s.IsLeader(), Leader: s.Leader()})
}

// leaderOnly serves h on the leader and sends everyone else there.
func (s *Server) leaderOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.IsLeader() {
			h(w, r)
			return
		}
		leader := s.Leader()
		if leader != "" {
			for _, m := range s.metaServers(r.Context()) {
				if m.Address == leader && m.HTTPAddress != "" {
					http.Redirect(w, r, "http://"+m.HTTPAddress+r.URL.RequestURI(), http.StatusTemporaryRedirect)
					return
				}
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, errorJSON{Error: ErrNotLeader.Error(), Leader: leader})
	}
}

// apiError answers err with the status it deserves.
func apiError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotLeader):
		code = http.StatusServiceUnavailable
	case errors.Is(err, ErrTableNotFound):
		code = http.StatusNotFound
	}
	writeJSON(w, code, errorJSON{Error: err.Error()})
}

func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	st, err := s.ctl.Status()
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, clusterJSON{
		ClusterName:       s.cfg.ClusterName,
		ClusterID:         s.clusterID(),
		Leader:            st.Leader,
		MetaFunctionLevel: st.Level.Name(),
		EffectiveLevel:    st.EffectiveLevel.Name(),
		FreezeReason:      st.Freeze,
		BalanceOperations: st.BalanceOperations,
		WaitingPartitions: st.WaitingPartitions,
		PrimaryStddev:     st.PrimaryStddev,
		TotalStddev:       st.TotalStddev,
		AliveNodes:        st.AliveNodes,
		TotalNodes:        st.TotalNodes,
		Tables:            st.Tables,
		Partitions:        st.Partitions,
		EtcdEndpoints:     s.etcdEndpointsFor(s.auth.IsAdminHTTP(r)),
		MetaServers:       s.metaServers(r.Context()),
	})
}

// etcdEndpointsFor returns the etcd endpoints for an admin caller, none
// for anyone else (see ClusterInfo).
func (s *Server) etcdEndpointsFor(admin bool) []string {
	if !admin {
		return nil
	}
	return s.etcdEndpoints
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.ctl.ListNodes()
	if err != nil {
		apiError(w, err)
		return
	}
	out := make([]nodeJSON, len(nodes))
	for i, n := range nodes {
		status := "UNALIVE"
		if n.Alive {
			status = "ALIVE"
		}
		out[i] = nodeJSON{
			Address: n.Address, Status: status, Fenced: n.Fenced,
			ReplicaCount: n.Replicas(), PrimaryCount: n.Primaries, SecondaryCount: n.Secondaries, LearnerCount: n.Learners,
			ProtocolVersion: n.Protocol, BinaryVersion: n.BinaryVersion, HTTPAddress: n.HTTPAddress, PegasusAddress: n.PegasusAddress,
		}
		if !n.LastBeacon.IsZero() {
			out[i].LastBeaconMs = n.LastBeacon.UnixMilli()
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func tableView(t Table, h *decide.TableHealth) tableJSON {
	v := tableJSON{
		AppID: t.AppID, Name: t.Name, Status: t.Status.String(), PartitionCount: t.PartitionCount,
		ReplicaCount: t.ReplicaCount, Envs: t.Envs, CreateTimeMs: t.CreateTime.UnixMilli(),
	}
	if h != nil {
		v.FullyHealthy, v.Unhealthy, v.WriteUnhealthy, v.ReadUnhealthy = &h.FullyHealthy, &h.Unhealthy, &h.WriteUnhealthy, &h.ReadUnhealthy
	}
	return v
}

func (s *Server) handleTables(w http.ResponseWriter, r *http.Request) {
	tables, err := s.ctl.ListTables()
	if err != nil {
		apiError(w, err)
		return
	}
	out := make([]tableJSON, len(tables))
	for i := range tables {
		out[i] = tableView(tables[i].Table, &tables[i].Health)
		out[i].Unavailable = unavailableView(tables[i].Waits)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTable(w http.ResponseWriter, r *http.Request) {
	tb, cfgs, waits, err := s.ctl.QueryConfig(r.PathValue("name"), nil)
	if err != nil {
		apiError(w, err)
		return
	}
	out := tableDetailJSON{Table: tableView(tb, nil), Partitions: make([]partitionRecord, len(cfgs))}
	out.Table.Unavailable = unavailableView(waits)
	for i, c := range cfgs {
		out.Partitions[i] = partitionRecord{
			AppID: c.Gpid.AppID, PartitionIndex: c.Gpid.Index, Ballot: c.Ballot, MaxReplicaCount: c.MaxReplicaCount,
			Primary: c.Primary, Secondaries: c.Secondaries, Learners: c.Learners, LastDrops: c.LastDrops,
			LastCommittedDecree: c.LastCommittedDecree, LastDropDetails: dropRecords(c.LastDropDetails),
		}
	}
	writeJSON(w, http.StatusOK, out)
}
