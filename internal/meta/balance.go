package meta

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Scale-in and scale-out need three things of the meta server beyond the
// rolling restart's drain: copying a secondary to another node before it
// is removed from its old one (balance -p copy_sec), saying when the
// balancer has evened the layout (meta.lb.get_balance_operation_count),
// and forgetting a replica server that was taken out for good
// (meta.forget_node).

// CopySecondary moves the secondary of g on `from` to `to` (Pegasus
// `balance -g <gpid> -p copy_sec -f <from> -t <to>`): to joins as a
// learner beyond max_replica_count, and once the primary has made it a
// secondary the meta server removes from, in a later round. The partition
// never has fewer replicas than before; a meta failover in between drops
// the move, leaving at worst one replica too many, which the guardian
// removes. Needs level steady or lively. It returns the change made, as a
// `propose` line.
func (c *Controller) CopySecondary(ctx context.Context, g decide.Gpid, from, to string) ([]string, error) {
	return c.drain(ctx, "balance copy_sec", from, DrainOptions{},
		func(l *decide.Layout, nodes decide.NodeView, _ string) ([]decide.Proposal, error) {
			p, err := c.planner.CopySecondary(l, nodes, g, from, to)
			if err != nil {
				return nil, err
			}
			return []decide.Proposal{p}, nil
		})
}

// Remote commands of this file.
const (
	balanceCountCommand = "meta.lb.get_balance_operation_count"
	forgetNodeCommand   = "meta.forget_node"
)

// balanceCount is meta.lb.get_balance_operation_count's answer.
type balanceCount struct {
	Error   string `json:"error"`
	Total   int    `json:"total"`
	MovePri int    `json:"move_pri"`
	// CopyPri is always 0: a primary is moved with move_pri, then copied
	// as a secondary. Kept for Pegasus' scripts.
	CopyPri int `json:"copy_pri"`
	CopySec int `json:"copy_sec"`
	// Balanced: the last round ran the balancer (effective level lively),
	// which found nothing to move and has no move in progress.
	Balanced bool `json:"balanced"`
	// Level is the effective level of the last round; Blocked why the
	// balancer started nothing (a partition not fully healthy).
	Level   string `json:"level"`
	Blocked string `json:"blocked,omitempty"`
}

// balanceCountCmd answers meta.lb.get_balance_operation_count
// [total|move_pri|copy_pri|copy_sec|detail]: one count, or every count
// with whether the layout is balanced.
func (c *Controller) balanceCountCmd(args []string) (string, error) {
	c.mu.Lock()
	if _, err := c.termLocked(); err != nil {
		c.mu.Unlock()
		return "", err
	}
	moves := c.planner.Moves()
	r := balanceCount{Error: "ok", Total: moves.Total(), MovePri: moves.MovePrimary, CopySec: moves.CopySecondary,
		Balanced: c.lastPlan.balanced && moves.Total() == 0, Level: c.lastPlan.level.Name(), Blocked: c.lastPlan.blocked}
	if r.Blocked == "" {
		// Frozen (too few nodes alive, a new leader settling): say so.
		r.Blocked = c.lastPlan.freeze
	}
	c.mu.Unlock()
	var v any = r
	switch arg := ""; {
	case len(args) > 1:
		return "", fmt.Errorf("%w: %s takes at most one argument", ErrInvalidArgument, balanceCountCommand)
	case len(args) == 1:
		arg = args[0]
		counts := map[string]int{"total": r.Total, "move_pri": r.MovePri, "copy_pri": r.CopyPri, "copy_sec": r.CopySec}
		if n, ok := counts[arg]; ok {
			v = map[string]any{"error": "ok", arg: n}
		} else if arg != "detail" {
			return "", fmt.Errorf("%w: %s %q (want total, move_pri, copy_pri, copy_sec or detail)", ErrInvalidArgument, balanceCountCommand, arg)
		}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// ForgetNode removes a replica server taken out of the cluster for good
// (scaled in) from the meta server's node list: `nodes -d` stops listing
// it and it no longer counts towards meta.live_percentage. Only a node the
// failure detector considers dead and that holds no replica is forgotten;
// forgetting a node not known is a success, so a repeat is harmless. A
// forgotten node that beacons again joins as a new one.
func (c *Controller) ForgetNode(node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return err
	}
	st, known := c.fd.Node(node)
	roles := c.cache.layout.Load(node).Roles()
	switch {
	case known && st.Alive:
		return fmt.Errorf("%w: %s (stop it first; it counts as dead after the failure detector's grace)",
			ErrNodeAlive, node)
	case roles > 0:
		return fmt.Errorf("%w: %s still holds %d replicas", ErrInvalidArgument, node, roles)
	}
	if known && c.fd.Forget(node) {
		delete(c.senders, node)
		c.log.Info("forgot a replica server taken out of the cluster", "node", node)
	}
	return nil
}

func (c *Controller) forgetNodeCmd(args []string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", fmt.Errorf("%w: %s takes one node address", ErrInvalidArgument, forgetNodeCommand)
	}
	if err := c.ForgetNode(args[0]); err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]string{"error": "ok", "forgot": args[0]})
	return string(b), err
}
