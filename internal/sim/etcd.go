package sim

import (
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta"
)

// etcd models what the meta servers use etcd for: the metadata store (the
// real meta.MemStore, with its fencing by term and compare-and-swap), and
// the leader election (concurrency.Election over a session with a TTL,
// kept alive every TTL/3, behind internal/meta's lease guard).
//
// etcd is one process: it can be down (the metadata store unavailable) or
// cut off from some meta servers. Its own clock is the true clock.
//
// Election rules, as etcd's:
//   - a session lives while keepalives reach etcd within the TTL;
//   - the first campaigner with a live session holds the election key; the
//     next one in campaign order wins once the holder's session expires or
//     is revoked; winning starts a new term of the store (fence);
//   - the meta server ends its session itself when no keepalive answer
//     came for TTL minus a tenth (the lease guard), or when its term ends;
//   - when etcd comes back from being down, every session's TTL restarts.
type etcd struct {
	w     *World
	p     *proc
	store *meta.MemStore
	// home is the cluster's own namespace (store is another one while
	// the meta servers are configured with a wrong cluster_name).
	home *meta.MemStore
	ttl  time.Duration
	// ids are the namespaces' cluster ids, each created when the first
	// meta server starts on it (meta's loadClusterID).
	ids map[*meta.MemStore]string

	sessions map[uint64]*etcdSession
	nextID   uint64
	// holder is the session holding the election key (0: none); order
	// lists campaigning sessions in campaign order.
	holder uint64
	order  []uint64
}

type etcdSession struct {
	id      uint64
	m       *metaServer
	expires time.Duration
	// term is the store of the term this session won, once it holds the
	// election key.
	term meta.Store
}

func newEtcd(w *World) *etcd {
	home := meta.NewMemStore()
	e := &etcd{w: w, store: home, home: home, ttl: 3 * time.Second, sessions: make(map[uint64]*etcdSession),
		ids: make(map[*meta.MemStore]string)}
	e.p = w.newProc("etcd", newClock(w, 0, 0))
	return e
}

// start brings etcd (back) up. Sessions survive an outage with a fresh TTL.
func (e *etcd) start() {
	e.w.start(e.p)
	for _, s := range e.sessions {
		s.expires = e.w.now + e.ttl
	}
	e.w.trace.note("etcd up")
	e.tick()
}

// useNamespace points every meta server at another namespace (key prefix)
// of the same etcd, as a meta server configured with another cluster_name
// is: the metadata there is st's, and the election keys are others, so no
// session of the old namespace holds or waits for them.
func (e *etcd) useNamespace(st *meta.MemStore) {
	e.store = st
	e.sessions = make(map[uint64]*etcdSession)
	e.order, e.holder = nil, 0
}

// clusterID returns the cluster id of the namespace the meta servers use,
// creating it on first use. (A real meta server waits for etcd to read or
// create it before it serves; here it is read at start even while etcd is
// out of reach.)
func (e *etcd) clusterID() string {
	id, ok := e.ids[e.store]
	if !ok {
		id = fmt.Sprintf("cluster-%d", len(e.ids)+1)
		e.ids[e.store] = id
	}
	return id
}

// down makes etcd unavailable.
func (e *etcd) down() {
	e.w.kill(e.p)
	e.w.trace.note("etcd down")
}

// reachable reports whether m can talk to etcd now (both ways).
func (e *etcd) reachable(m *metaServer) bool {
	return e.p.up && e.w.net.linked(m.p.name, e.p.name) && e.w.net.linked(e.p.name, m.p.name)
}

// tick expires sessions and hands the election key on.
func (e *etcd) tick() {
	for _, id := range sortedIDs(e.sessions) {
		if s := e.sessions[id]; s.expires <= e.w.now {
			e.drop(id)
		}
	}
	e.elect()
	e.w.schedule(e.p, 100*time.Millisecond, e.tick)
}

func (e *etcd) drop(id uint64) {
	delete(e.sessions, id)
	for i, x := range e.order {
		if x == id {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
	if e.holder == id {
		e.holder = 0
	}
}

// elect gives the key to the first campaigner if nobody holds it, starts
// its term, and tells every meta server who leads.
func (e *etcd) elect() {
	if e.holder != 0 || len(e.order) == 0 {
		return
	}
	s := e.sessions[e.order[0]]
	e.holder = s.id
	s.term = e.store.Term()
	e.w.stats.elections++
	m, sid, term := s.m, s.id, s.term
	e.w.net.sendReliable(e.p, m.p, func() { m.elected(sid, term) })
	for _, o := range e.w.metas {
		o := o
		e.w.net.sendReliable(e.p, o.p, func() {
			if o.session != 0 && o.name != m.name {
				o.ctl.SetLeaderHint(m.name)
			}
		})
	}
}

// keepAlive is a meta server's session loop, every TTL/3: open a session
// (and campaign) if it has none, else renew it; an answer moves the lease
// guard's deadline to the send time plus the TTL, less a tenth.
func (m *metaServer) keepAlive() {
	e := m.w.etcd
	margin := e.ttl / 10
	sid := m.session
	sentAt := m.p.clock.mono()
	call(m.w.net, m.p, e.p, e.ttl/3, false, keepAliveReq{m: m, sid: sid}, e.handleKeepAlive,
		func(a keepAliveAnswer, ok, _ bool) {
			switch {
			case !ok:
				// No answer: the guard keeps its deadline and fires.
				return
			case sid == 0 && m.session == 0 && a.id != 0:
				m.session = a.id
			case sid != 0 && m.session == sid && a.id == 0:
				m.endSession("etcd session gone")
				return
			case sid != 0 && m.session == sid:
			default:
				return
			}
			m.guard = sentAt + e.ttl - margin
			m.watchGuard()
			if a.term != nil {
				m.elected(m.session, a.term)
			}
		})
	m.w.after(m.p, e.ttl/3, m.keepAlive)
}

type keepAliveReq struct {
	m   *metaServer
	sid uint64
}

// keepAliveAnswer names the session (0: gone) and, if it holds the
// election key, the term it won (a campaigner learns it won from its
// Campaign call; here from whichever message arrives first).
type keepAliveAnswer struct {
	id   uint64
	term meta.Store
}

// handleKeepAlive renews a session, or with sid 0 opens one and campaigns.
// It answers id 0 when the session is gone.
func (e *etcd) handleKeepAlive(req keepAliveReq, respond func(keepAliveAnswer)) {
	if req.sid == 0 {
		e.nextID++
		s := &etcdSession{id: e.nextID, m: req.m, expires: e.w.now + e.ttl}
		e.sessions[s.id] = s
		e.order = append(e.order, s.id)
		e.elect()
		respond(keepAliveAnswer{id: s.id, term: s.term})
		return
	}
	s := e.sessions[req.sid]
	if s == nil {
		respond(keepAliveAnswer{})
		return
	}
	s.expires = e.w.now + e.ttl
	respond(keepAliveAnswer{id: req.sid, term: s.term})
}

// watchGuard checks the lease guard when it may fire (it polls every
// margin/4 in the server).
func (m *metaServer) watchGuard() {
	sid, deadline := m.session, m.guard
	m.w.after(m.p, max(deadline-m.p.clock.mono(), 0)+m.w.etcd.ttl/40, func() {
		if m.session == sid && m.guard == deadline && m.p.clock.mono() > deadline {
			m.endSession("lease guard: no keepalive answer in time")
		}
	})
}

// revoke ends a session at etcd, if it can be reached.
func (e *etcd) revoke(m *metaServer, sid uint64) {
	e.w.net.sendReliable(m.p, e.p, func() {
		e.drop(sid)
		e.elect()
	})
}

func sortedIDs(m map[uint64]*etcdSession) []uint64 {
	out := make([]uint64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
