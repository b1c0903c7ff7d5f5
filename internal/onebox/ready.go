package onebox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// pollInterval paces every readiness and health probe.
const pollInterval = 100 * time.Millisecond

// probeTimeout bounds one probe, so that a process that accepts
// connections but hangs does not stall the wait past its deadline.
const probeTimeout = time.Second

// probe reports nil when the process serves what its role serves; its
// error says what is still missing, for the message of a wait that timed
// out.
type probe func(ctx context.Context) error

// etcdReady: the member answers its /health endpoint with health true.
func etcdReady(c *Cluster, p Process) probe {
	return httpReady(c, c.scheme+"://"+p.Address+"/health", `"health":"true"`)
}

// collectorReady: the collector's HTTP server answers.
func collectorReady(c *Cluster, p Process) probe {
	return httpReady(c, c.scheme+"://"+p.HTTPAddress+"/", "")
}

func httpReady(c *Cluster, url, want string) probe {
	client := c.creds.HTTPClient(probeTimeout)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if want != "" && (resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want)) {
			return fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// metaServing: this meta server answers ClusterInfo itself (leader or
// follower), which is what "it is back" means for one restarted meta.
func metaServing(conns *dial.Conns, p Process) probe {
	return func(ctx context.Context) error {
		resp, err := dial.CallServer(ctx, conns, p.Address, (*dial.Conns).Meta,
			func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
				return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
			})
		if err != nil {
			return err
		}
		if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK && code != pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
			return fmt.Errorf("cluster_info from %s: %s", p.Address, code)
		}
		return nil
	}
}

// metaLeaderReady: one of the meta servers answers ClusterInfo as the
// leader. It returns the leader's address through leader.
func metaLeaderReady(conns *dial.Conns, metas []string, leader *string) probe {
	return func(ctx context.Context) error {
		var seen []string
		for _, addr := range metas {
			resp, err := dial.CallServer(ctx, conns, addr, (*dial.Conns).Meta,
				func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
					return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
				})
			if err != nil {
				seen = append(seen, err.Error())
				continue
			}
			if resp.GetError().GetCode() == pb.ErrorCode_ERR_OK && resp.GetLeader() == addr {
				*leader = addr
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s: leader %q", addr, resp.GetLeader()))
		}
		return fmt.Errorf("no meta server is leader yet (%s)", strings.Join(seen, "; "))
	}
}

// replicaAlive: the replica server answers its admin Status, and the meta
// leader lists it as alive (it has sent beacons and been accepted).
func replicaAlive(conns *dial.Conns, p Process) probe {
	return func(ctx context.Context) error {
		if _, err := dial.CallServer(ctx, conns, p.Address, (*dial.Conns).ReplicaAdmin,
			func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.ReplicaServerStatusResponse, error) {
				return r.Status(ctx, &pb.ReplicaServerStatusRequest{})
			}); err != nil {
			return err
		}
		alive, err := aliveNodes(ctx, conns)
		if err != nil {
			return err
		}
		if !slices.Contains(alive, p.Address) {
			return fmt.Errorf("meta server does not list %s as alive yet", p.Address)
		}
		return nil
	}
}

// aliveNodes returns the replica servers the meta leader lists as alive.
func aliveNodes(ctx context.Context, conns *dial.Conns) ([]string, error) {
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
		return m.ListNodes(ctx, &pb.ListNodesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("list nodes: %s %s", code, resp.GetError().GetMessage())
	}
	var alive []string
	for _, n := range resp.GetNodes() {
		if n.GetAlive() {
			alive = append(alive, n.GetAddress())
		}
	}
	return alive, nil
}

// tablesHealthy: every available table has all its partitions fully
// healthy (a primary and max_replica_count replicas).
func tablesHealthy(conns *dial.Conns) probe {
	return func(ctx context.Context) error {
		resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
			return m.ListTables(ctx, &pb.ListTablesRequest{})
		})
		if err != nil {
			return err
		}
		if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
			return fmt.Errorf("list tables: %s %s", code, resp.GetError().GetMessage())
		}
		var sick []string
		for _, th := range resp.GetTables() {
			t := th.GetTable()
			if t.GetStatus() != pb.TableStatus_AS_AVAILABLE {
				continue
			}
			if th.GetFullyHealthy() != t.GetPartitionCount() {
				sick = append(sick, fmt.Sprintf("%s %d/%d", t.GetName(), th.GetFullyHealthy(), t.GetPartitionCount()))
			}
		}
		if len(sick) > 0 {
			return fmt.Errorf("tables not fully healthy: %s", strings.Join(sick, ", "))
		}
		return nil
	}
}

// waitFor polls check until it passes, ctx ends, or exited reports that the
// process being waited for died (then the error carries its log's tail).
func waitFor(ctx context.Context, what string, check probe, exited func() error) error {
	var last error
	for {
		if exited != nil {
			if err := exited(); err != nil {
				return err
			}
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		last = check(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w (last check: %v)", ErrNotReady, what, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}
