package replica

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaClient calls the meta servers through internal/dial: calls go to the
// leader as far as known; on a transport failure the next server is tried,
// and an ERR_FORWARD_TO_OTHERS answer sends the call to the leader it
// names.
type metaClient struct {
	conns *dial.Conns
}

func newMetaClient(addrs []string, opts dial.Options) *metaClient {
	return &metaClient{conns: dial.New(addrs, opts)}
}

// setLeader makes addr the first server asked, as an answer that names
// the leader says.
func (m *metaClient) setLeader(addr string) { m.conns.SetLeader(addr) }

// leader is the meta server that answered last, or the one an answer named
// as leader: the only one whose configuration pushes are taken when the
// cluster runs mutual TLS (see admin.go).
func (m *metaClient) leader() string { return m.conns.Leader() }

// errorAnswer adapts fn's answer to dial.Response.
type errorAnswer struct{ e *pb.Error }

func (a errorAnswer) GetError() *pb.Error { return a.e }

// call runs fn against the meta servers until one answers anything but
// ERR_FORWARD_TO_OTHERS. fn returns the answer's error field and the call's
// own error. A meta server answering ERR_CLUSTER_ID_MISMATCH belongs to
// another cluster: it is never the leader to follow, whatever else it says,
// and the others are asked; when no other gives an answer, the call fails
// with ErrForeignCluster.
func (m *metaClient) call(ctx context.Context, fn func(context.Context, pb.MetaClient) (*pb.Error, error)) error {
	a, addr, err := dial.CallMetaFrom(ctx, m.conns, func(ctx context.Context, c pb.MetaClient) (errorAnswer, error) {
		e, err := fn(ctx, c)
		return errorAnswer{e}, err
	}, dial.RetryOn(foreignAnswer))
	if err != nil {
		return errorf(ErrMeta, "%v", err)
	}
	switch e := a.e; {
	case foreignAnswer(e):
		return errorf(ErrForeignCluster, "%s: %s", addr, e.GetMessage())
	case e.GetCode() != pb.ErrorCode_ERR_OK:
		return errorf(ErrMeta, "%s: %s %s", addr, e.GetCode(), e.GetMessage())
	}
	return nil
}

// foreignAnswer reports whether a meta server refused the call because
// this server belongs to another cluster.
func foreignAnswer(e *pb.Error) bool { return e.GetCode() == pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH }

func (m *metaClient) close() { m.conns.Close() }

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
