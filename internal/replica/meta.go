package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaClient calls the meta servers. Calls go to the leader as far as known;
// on a transport failure the next server is tried, and an
// ERR_FORWARD_TO_OTHERS answer sends the call to the leader it names.
type metaClient struct {
	addrs []string
	dial  func(addr string) (*grpc.ClientConn, error)

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	leader string
}

func newMetaClient(addrs []string, dial func(string) (*grpc.ClientConn, error)) *metaClient {
	return &metaClient{addrs: slices.Clone(addrs), dial: dial, conns: make(map[string]*grpc.ClientConn)}
}

func (m *metaClient) client(addr string) (pb.MetaClient, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cc := m.conns[addr]
	if cc == nil {
		var err error
		if cc, err = m.dial(addr); err != nil {
			return nil, err
		}
		m.conns[addr] = cc
	}
	return pb.NewMetaClient(cc), nil
}

// order returns the servers to try: the leader first.
func (m *metaClient) order() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.addrs)+1)
	if m.leader != "" {
		out = append(out, m.leader)
	}
	for _, a := range m.addrs {
		if a != m.leader {
			out = append(out, a)
		}
	}
	return out
}

func (m *metaClient) setLeader(addr string) {
	m.mu.Lock()
	m.leader = addr
	m.mu.Unlock()
}

// call runs fn against the meta servers until one answers anything but
// ERR_FORWARD_TO_OTHERS. fn returns the answer's error field and the call's
// own error.
func (m *metaClient) call(ctx context.Context, fn func(context.Context, pb.MetaClient) (*pb.Error, error)) error {
	queue := m.order()
	tried := make(map[string]bool, len(queue))
	var last error
	for len(queue) > 0 && ctx.Err() == nil {
		addr := queue[0]
		queue = queue[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		c, err := m.client(addr)
		if err != nil {
			last = err
			continue
		}
		e, err := fn(ctx, c)
		switch {
		case err != nil:
			last = fmt.Errorf("%s: %w", addr, err)
		case e.GetCode() == pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH:
			// A meta server of another cluster: never the leader to
			// follow, whatever else it says; try the others.
			last = errorf(ErrForeignCluster, "%s: %s", addr, e.GetMessage())
		case e.GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
			last = fmt.Errorf("%s: not the leader", addr)
			if hint := e.GetPrimary(); hint != "" && !tried[hint] {
				queue = append([]string{hint}, queue...)
			}
		case e.GetCode() != pb.ErrorCode_ERR_OK:
			m.setLeader(addr)
			return errorf(ErrMeta, "%s: %s %s", addr, e.GetCode(), e.GetMessage())
		default:
			m.setLeader(addr)
			return nil
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	if isForeign(last) {
		return last
	}
	return errorf(ErrMeta, "%v", last)
}

func (m *metaClient) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cc := range m.conns {
		_ = cc.Close()
	}
	clear(m.conns)
}

// proposalQueue carries the cores' configuration proposals to the meta
// leader, batching whatever is queued into one ProposeConfig call. A failed
// call drops its proposals: the cores repeat them (ProposalRetryTicks) while
// they still stand.
type proposalQueue struct {
	srv    *Server
	mu     sync.Mutex
	queue  []*pb.ConfigProposal
	signal chan struct{}
}

func newProposalQueue(s *Server) *proposalQueue {
	return &proposalQueue{srv: s, signal: make(chan struct{}, 1)}
}

// add queues a core's proposal for partition g.
func (q *proposalQueue) add(g gpid, cp pacifica.ConfigProposal) {
	typ, ok := wireConfigType(cp.Type)
	if !ok {
		return
	}
	q.mu.Lock()
	q.queue = append(q.queue, &pb.ConfigProposal{Gpid: g.pb(), Type: typ, Node: string(cp.Node), Ballot: int64(cp.Ballot),
		Incarnation: cp.Incarnation})
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func wireConfigType(t pacifica.ConfigType) (pb.ConfigType, bool) {
	switch t {
	case pacifica.ConfigDowngradeToInactive:
		return pb.ConfigType_CT_DOWNGRADE_TO_INACTIVE, true
	case pacifica.ConfigUpgradeToSecondary:
		return pb.ConfigType_CT_UPGRADE_TO_SECONDARY, true
	case pacifica.ConfigForceUpdateBallot:
		return pb.ConfigType_CT_PRIMARY_FORCE_UPDATE_BALLOT, true
	}
	return pb.ConfigType_CT_INVALID, false
}

// run sends queued proposals until ctx ends.
func (q *proposalQueue) run(ctx context.Context, timeout time.Duration, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		s := q.srv
		var resp *pb.ProposeConfigResponse
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := s.meta.call(cctx, func(ctx context.Context, c pb.MetaClient) (*pb.Error, error) {
			r, err := c.ProposeConfig(ctx, &pb.ProposeConfigRequest{Proposals: batch, Node: string(s.node), ClusterId: s.clusterID()})
			resp = r
			return r.GetError(), err
		})
		cancel()
		if resp != nil && s.checkMeta("propose", resp.GetClusterId()) == nil {
			// Applied or not, the answer carries the meta server's current
			// configurations: a proposer working from a stale ballot
			// catches up at once.
			s.applyMetaState(nil, resp.GetConfigs(), nil)
		}
		if err != nil {
			// Debug: an unreachable meta server already shows in the beacon
			// warnings, and the cores repeat their proposals.
			log.Debug("configuration proposals not applied", "count", len(batch), "err", err)
		}
	}
}
