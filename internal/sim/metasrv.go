package sim

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaServer is a meta server: the REAL meta.Controller (failure detector,
// planner, proposals, drains, the store's compare-and-swap writes), driven
// as internal/meta's Server drives it: beacons and proposals as they
// arrive, a planning round every lb_interval_ms and at once when the
// controller asks (Wake), leadership from the election (etcd.go). Pushes
// leave through the controller's PushSink onto the simulated network.
type metaServer struct {
	w    *World
	p    *proc
	name string
	fd   decide.FDConfig
	// knobs are the configuration file's knobs (stored ones override them).
	knobs decide.Knobs
	lb    time.Duration

	ctl *meta.Controller
	// clusterID is this life's cluster id, its etcd namespace's.
	clusterID string
	// session is this life's etcd session (0: none); guard is when it may
	// have expired unheard, on this host's monotonic clock.
	session uint64
	guard   time.Duration
	leading bool
	term    context.Context
	// won is the store of the last term this life was elected for.
	won meta.Store
	// roundAt is when the next planning round runs (0: none scheduled).
	roundSeq int
}

// metaAnswer is the error part of a meta server's answer, as the replica
// servers and clients read it: the wire code and, for
// ERR_FORWARD_TO_OTHERS, the leader.
type metaAnswer struct {
	code   pb.ErrorCode
	leader string
}

func answerOf(err error) metaAnswer {
	e := meta.WireError(err)
	return metaAnswer{code: e.GetCode(), leader: e.GetPrimary()}
}

type beaconAnswer struct {
	metaAnswer
	reply     meta.BeaconReply
	clusterID string
}

type proposeReq struct {
	node      string
	props     []meta.ReplicaProposal
	clusterID string
}

type proposeAnswer struct {
	metaAnswer
	configs   []decide.PartitionConfig
	clusterID string
}

type queryAnswer struct {
	metaAnswer
	table   meta.Table
	configs []decide.PartitionConfig
}

// start begins a new life: a fresh controller (a meta server keeps nothing
// on disk; etcd holds the metadata) that campaigns for leadership.
func (m *metaServer) start() {
	w := m.w
	w.start(m.p)
	m.clusterID = w.etcd.clusterID()
	ctl, err := meta.NewController(meta.ControllerConfig{
		ClusterID:        m.clusterID,
		Self:             m.name,
		FD:               m.fd,
		Knobs:            m.knobs,
		WriteParallelism: 1,
		PushSink:         m.push,
	}, metaClock{m.p.clock}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err) // the options are the simulation's own
	}
	m.ctl = ctl
	m.session, m.leading, m.term, m.won = 0, false, nil, nil
	w.trace.note("%s started", m.name)
	m.keepAlive()
}

func (m *metaServer) crash() {
	m.w.kill(m.p)
	m.leading = false
	m.w.trace.note("%s crashed", m.name)
}

// push is the controller's PushSink: configurations go to the node over
// the network, with this server's cluster id, where the server applies
// them like a beacon answer.
func (m *metaServer) push(node string, configs []decide.PartitionConfig, tables []meta.Table) {
	n := m.w.node(node)
	if n == nil {
		return
	}
	id := m.clusterID
	m.w.net.send(m.p, n.p, func() { n.pushed(id, tables, configs) })
}

// handleBeacon is the Meta.Beacon RPC: a beacon of another cluster is
// refused before the controller sees it (the meta service's Beacon).
func (m *metaServer) handleBeacon(b meta.Beacon, respond func(beaconAnswer)) {
	if err := meta.CheckClusterID("beacon", b.Node, "", m.clusterID, b.ClusterID); err != nil {
		respond(beaconAnswer{metaAnswer: answerOf(err), clusterID: m.clusterID})
		return
	}
	r := m.ctl.Beacon(b)
	m.afterCall()
	respond(beaconAnswer{metaAnswer: answerOf(r.Err), reply: r, clusterID: m.clusterID})
}

// handlePropose is the Meta.ProposeConfig RPC.
func (m *metaServer) handlePropose(req proposeReq, respond func(proposeAnswer)) {
	if err := meta.CheckClusterID("propose", req.node, "", m.clusterID, req.clusterID); err != nil {
		respond(proposeAnswer{metaAnswer: answerOf(err), clusterID: m.clusterID})
		return
	}
	results, err := m.ctl.Propose(context.Background(), req.node, req.props)
	m.afterCall()
	if err != nil {
		respond(proposeAnswer{metaAnswer: answerOf(err), clusterID: m.clusterID})
		return
	}
	a := proposeAnswer{clusterID: m.clusterID}
	for i, r := range results {
		cfg := r.Config
		if cfg.Gpid == (decide.Gpid{}) {
			cfg = decide.PartitionConfig{Gpid: req.props[i].Gpid}
		}
		a.configs = append(a.configs, cfg)
		if r.Err != nil && a.code == pb.ErrorCode_ERR_OK {
			a.metaAnswer = answerOf(r.Err)
		}
		if r.Err == nil {
			m.w.trace.note("%s: %s proposed %s %s @b%d: applied, b%d", m.name, req.node, req.props[i].Type,
				req.props[i].Node, req.props[i].Ballot, r.Config.Ballot)
		}
	}
	respond(a)
}

// handleQuery is the Meta.QueryConfig RPC.
func (m *metaServer) handleQuery(table string, respond func(queryAnswer)) {
	tb, cfgs, _, err := m.ctl.QueryConfig(table, nil)
	respond(queryAnswer{metaAnswer: answerOf(err), table: tb, configs: cfgs})
}

// afterCall runs what the server's leader loop does between calls: a round
// when the controller asked for one, and the end of the term once its
// context ended (a fenced write found another leader).
func (m *metaServer) afterCall() {
	if !m.leading {
		return
	}
	if m.term.Err() != nil {
		m.endSession("term ended")
		return
	}
	select {
	case <-m.ctl.Wake():
		m.scheduleRound(0)
	default:
	}
}

// scheduleRound runs a planning round after d, replacing any scheduled one.
func (m *metaServer) scheduleRound(d time.Duration) {
	m.roundSeq++
	seq := m.roundSeq
	m.w.after(m.p, d, func() {
		if seq != m.roundSeq || !m.leading {
			return
		}
		m.round()
		m.scheduleRound(m.lb)
	})
}

func (m *metaServer) round() {
	rep, err := m.ctl.Round(m.term)
	if err != nil && !errors.Is(err, meta.ErrNotLeader) {
		m.w.trace.note("%s: round: %v", m.name, err)
	}
	for _, ev := range rep.Plan.Events {
		m.w.trace.note("%s: node %s", m.name, ev.String())
	}
	for _, p := range rep.Applied {
		m.w.trace.note("%s: %s", m.name, p.String())
	}
	m.afterCall()
}

// elected is the news that session sid won a term.
func (m *metaServer) elected(sid uint64, term meta.Store) {
	if m.session != sid || sid == 0 || m.won == term {
		return
	}
	m.won = term
	m.lead(term)
}

// lead starts a term: the controller loads the store (through this
// server's connection to etcd) and rounds begin.
func (m *metaServer) lead(store meta.Store) {
	ctx, err := m.ctl.BecomeLeader(context.Background(), &etcdStore{inner: store, m: m})
	if err != nil {
		m.w.trace.note("%s: cannot lead: %v", m.name, err)
		m.endSession("load failed")
		return
	}
	m.leading, m.term = true, ctx
	m.w.trace.note("%s leads", m.name)
	m.scheduleRound(m.lb)
}

// endSession ends the etcd session: the term (if any) steps down first,
// then the session is revoked so that another meta server may win now.
func (m *metaServer) endSession(why string) {
	if m.session == 0 {
		return
	}
	if m.leading {
		m.ctl.StepDown("")
		m.leading = false
		m.w.trace.note("%s steps down: %s", m.name, why)
	}
	sid := m.session
	m.session = 0
	m.w.etcd.revoke(m, sid)
}

// errEtcdUnavailable is what a store call gets while etcd is down or out of
// reach. (A real etcd client would wait out its deadline first.)
var errEtcdUnavailable = errors.New("sim: etcd unavailable")

// etcdStore is a term's Store as seen from one meta server: the shared
// MemStore (fencing, compare-and-swap, one revision counter), reachable
// only while etcd is up and linked both ways with this server.
type etcdStore struct {
	inner meta.Store
	m     *metaServer
}

func (s *etcdStore) ok() error {
	if !s.m.w.etcd.reachable(s.m) {
		return errEtcdUnavailable
	}
	return nil
}

func (s *etcdStore) Load(ctx context.Context) (*meta.Snapshot, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	return s.inner.Load(ctx)
}

func (s *etcdStore) CreateTable(ctx context.Context, t meta.Table) (meta.Table, error) {
	if err := s.ok(); err != nil {
		return meta.Table{}, err
	}
	return s.inner.CreateTable(ctx, t)
}

func (s *etcdStore) CreatePartitions(ctx context.Context, parts []decide.PartitionConfig) ([]int64, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	return s.inner.CreatePartitions(ctx, parts)
}

func (s *etcdStore) UpdateTable(ctx context.Context, t meta.Table) error {
	if err := s.ok(); err != nil {
		return err
	}
	return s.inner.UpdateTable(ctx, t)
}

func (s *etcdStore) DropTable(ctx context.Context, t meta.Table) error {
	if err := s.ok(); err != nil {
		return err
	}
	return s.inner.DropTable(ctx, t)
}

func (s *etcdStore) UpdatePartition(ctx context.Context, rev int64, next decide.PartitionConfig) (int64, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	r, err := s.inner.UpdatePartition(ctx, rev, next)
	if err == nil {
		s.m.w.check.configWritten(next)
	}
	return r, err
}

func (s *etcdStore) SetKnob(ctx context.Context, name, value string) error {
	if err := s.ok(); err != nil {
		return err
	}
	return s.inner.SetKnob(ctx, name, value)
}
