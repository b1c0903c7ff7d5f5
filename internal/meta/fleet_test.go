package meta

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// fleet is a set of fake replica servers for the integration tests. Each
// beacons the meta servers over real gRPC from its own goroutine,
// following the leader they name; pushes reach it through the fleet, which
// is the servers' ReplicaAdmin. A fake primary proposes every learner of
// its partitions for upgrade at once (the learning itself is the replica
// server's business).
type fleet struct {
	t        *testing.T
	metas    []string
	interval time.Duration

	mu    sync.Mutex
	nodes map[string]*fakeReplica
	conns map[string]*grpc.ClientConn
}

type fakeReplica struct {
	addr  string
	start time.Time

	mu     sync.Mutex
	parts  map[decide.Gpid]decide.PartitionConfig
	target int
	down   bool
	leased bool
	// granted counts the beacons answered with a lease.
	granted int
	cancel  context.CancelFunc
	done    chan struct{}
}

func newFleet(t *testing.T, metas []string, interval time.Duration) *fleet {
	f := &fleet{t: t, metas: metas, interval: interval, nodes: make(map[string]*fakeReplica), conns: make(map[string]*grpc.ClientConn)}
	t.Cleanup(f.close)
	return f
}

func (f *fleet) client(addr string) pb.MetaClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	cc, ok := f.conns[addr]
	if !ok {
		var err error
		if cc, err = (dial.Options{}).NewClient(addr); err != nil {
			f.t.Fatal(err)
		}
		f.conns[addr] = cc
	}
	return pb.NewMetaClient(cc)
}

// start starts n fake replica servers named r1:1 ... rn:1.
func (f *fleet) start(n int) {
	for i := 1; i <= n; i++ {
		addr := fmt.Sprintf("r%d:1", i)
		r := &fakeReplica{addr: addr, start: time.Now(), parts: make(map[decide.Gpid]decide.PartitionConfig)}
		f.mu.Lock()
		f.nodes[addr] = r
		f.mu.Unlock()
		f.run(r)
	}
}

func (f *fleet) run(r *fakeReplica) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		tick := time.NewTicker(f.interval)
		defer tick.Stop()
		for {
			f.beacon(ctx, r)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// kill stops a replica server: no beacons, pushes fail.
func (f *fleet) kill(addr string) {
	f.mu.Lock()
	r := f.nodes[addr]
	f.mu.Unlock()
	r.mu.Lock()
	r.down = true
	r.mu.Unlock()
	r.cancel()
	<-r.done
}

func (f *fleet) close() {
	f.mu.Lock()
	nodes := make([]*fakeReplica, 0, len(f.nodes))
	for _, r := range f.nodes {
		nodes = append(nodes, r)
	}
	f.mu.Unlock()
	for _, r := range nodes {
		r.cancel()
		<-r.done
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cc := range f.conns {
		cc.Close()
	}
}

// UpdateConfig implements ReplicaAdmin for the meta servers under test.
func (f *fleet) UpdateConfig(ctx context.Context, node string, req *pb.ConfigUpdateRequest) error {
	f.mu.Lock()
	r := f.nodes[node]
	f.mu.Unlock()
	if r == nil {
		return fmt.Errorf("no replica server %s", node)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return fmt.Errorf("%s is down", node)
	}
	for _, c := range req.GetConfigs() {
		r.applyLocked(configFromPB(c))
	}
	return nil
}

func (r *fakeReplica) applyLocked(c decide.PartitionConfig) {
	if old, ok := r.parts[c.Gpid]; !ok || c.Ballot >= old.Ballot {
		r.parts[c.Gpid] = c
	}
}

func (r *fakeReplica) statusOf(c decide.PartitionConfig) pb.PartitionStatus {
	switch c.RoleOf(r.addr) {
	case decide.RolePrimary:
		return pb.PartitionStatus_PS_PRIMARY
	case decide.RoleSecondary:
		return pb.PartitionStatus_PS_SECONDARY
	case decide.RoleLearner:
		return pb.PartitionStatus_PS_POTENTIAL_SECONDARY
	}
	return pb.PartitionStatus_PS_INACTIVE
}

func (f *fleet) beacon(ctx context.Context, r *fakeReplica) {
	r.mu.Lock()
	req := &pb.BeaconRequest{Node: r.addr, ProtocolVersion: version.Current().String(), StartTimeMs: r.start.UnixMilli()}
	for _, c := range r.parts {
		req.Replicas = append(req.Replicas, &pb.ReplicaReport{Gpid: gpidToPB(c.Gpid), Status: r.statusOf(c), Ballot: c.Ballot,
			LastCommittedDecree: 5, LastPreparedDecree: 5})
	}
	target := f.metas[r.target%len(f.metas)]
	r.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, f.interval*3)
	resp, err := f.client(target).Beacon(cctx, req)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.target++
		r.leased = false
		return
	}
	if resp.GetError().GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
		r.leased = false
		if i := slices.Index(f.metas, resp.GetLeader()); i >= 0 {
			r.target = i
		} else {
			r.target++
		}
		return
	}
	r.leased = resp.GetAllowed() && resp.GetLeaseMs() > 0
	if r.leased {
		r.granted++
	}
	for _, c := range resp.GetConfigs() {
		r.applyLocked(configFromPB(c))
	}
	for _, g := range resp.GetRemove() {
		delete(r.parts, gpidFromPB(g))
	}
	// Learners of this primary have caught up.
	var props []*pb.ConfigProposal
	for _, c := range r.parts {
		if c.Primary != r.addr {
			continue
		}
		for _, l := range c.Learners {
			props = append(props, &pb.ConfigProposal{Gpid: gpidToPB(c.Gpid), Type: pb.ConfigType_CT_UPGRADE_TO_SECONDARY, Node: l, Ballot: c.Ballot})
		}
	}
	if len(props) == 0 {
		return
	}
	go func() {
		pctx, cancel := context.WithTimeout(ctx, f.interval*3)
		defer cancel()
		resp, err := f.client(target).ProposeConfig(pctx, &pb.ProposeConfigRequest{Node: r.addr, Proposals: props})
		if err != nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range resp.GetConfigs() {
			if c.GetBallot() > 0 {
				r.applyLocked(configFromPB(c))
			}
		}
	}()
}

// holds reports whether every replica server named by cfgs holds each
// configuration at its ballot.
func (f *fleet) holds(cfgs []*pb.PartitionConfiguration) bool {
	for _, pc := range cfgs {
		c := configFromPB(pc)
		for _, m := range members(c) {
			f.mu.Lock()
			r := f.nodes[m]
			f.mu.Unlock()
			if r == nil {
				return false
			}
			r.mu.Lock()
			held, ok := r.parts[c.Gpid]
			r.mu.Unlock()
			if !ok || held.Ballot != c.Ballot {
				return false
			}
		}
	}
	return true
}

// allLeased reports whether every running replica server's last beacon
// was granted a lease.
func (f *fleet) allLeased() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.nodes {
		r.mu.Lock()
		ok := r.down || r.leased
		r.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}
