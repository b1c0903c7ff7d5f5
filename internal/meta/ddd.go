package meta

import (
	"context"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Unavailable partitions and the operator's way out.
//
// A partition without a primary serves nothing. Most of the time the next
// planning round repairs it; when it cannot (every member is gone and the
// one that holds the latest writes is not back, Pegasus' DDD state), the
// meta server waits rather than guesses, and says why: `ls -d`, `app -d`,
// the HTTP API and the log all give the reason. ddd_diagnose lists the
// partitions in that state with what each dropped node holds, and is the
// only way to make the meta server give up waiting: an operator names the
// node to go on from, and the decision is logged as an audit event.

// unavailableLocked says why cfg has no primary, or "" if it has one.
func (c *Controller) unavailableLocked(cfg decide.PartitionConfig) string {
	if cfg.Primary != "" {
		return ""
	}
	if w, ok := c.lastPlan.waits[cfg.Gpid]; ok {
		return w.String()
	}
	if level, why := c.effectiveLevelLocked(c.clock.Now(), true); !level.AllowsCure() {
		if why == "" {
			why = "set_meta_level steady to let the meta server assign one"
		}
		return fmt.Sprintf("no primary: meta function level %s (%s)", level.Name(), why)
	}
	if len(cfg.Secondaries) == 0 && len(cfg.LastDrops) > 0 {
		best, w := decide.RecoveryCandidate(cfg, c.fd)
		if best == "" {
			return w.String()
		}
		return fmt.Sprintf("no primary: recovery from %s at the next round", best)
	}
	return "no primary: one is assigned at the next round"
}

// waitsLocked lists the reasons of tb's partitions that have no primary.
func (c *Controller) waitsLocked(cfgs []decide.PartitionConfig) []PartitionWait {
	var out []PartitionWait
	for _, cfg := range cfgs {
		if r := c.unavailableLocked(cfg); r != "" {
			out = append(out, PartitionWait{Index: cfg.Gpid.Index, Reason: r})
		}
	}
	return out
}

// PartitionWait is why a partition of a table has no primary.
type PartitionWait struct {
	Index  int32
	Reason string
}

// DDDDiagnose lists the partitions whose every member is gone (Pegasus'
// ddd_diagnose), of table app (0: every table) and partition index (-1:
// every partition).
func (c *Controller) DDDDiagnose(app, index int32) ([]decide.DDDPartition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return nil, err
	}
	return decide.DDDDiagnose(c.cache.layout, c.fd, app, index), nil
}

// ForcePrimary is the operator's override of the wait for a DDD
// partition's last member (`ddd_diagnose -d`): node becomes the primary of
// g from the copy it holds (none with allowEmpty), and whatever the awaited
// member holds beyond it is given up. It is written like any change, and
// logged as an audit event naming operator.
func (c *Controller) ForcePrimary(ctx context.Context, g decide.Gpid, node string, allowEmpty bool, operator string) (decide.Proposal, error) {
	if err := ctx.Err(); err != nil {
		return decide.Proposal{}, err
	}
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return decide.Proposal{}, err
	}
	cur, rev, ok := c.cache.config(g)
	if !ok {
		c.mu.Unlock()
		return decide.Proposal{}, fmt.Errorf("%w: %s", ErrUnknownPartition, g)
	}
	prop, err := decide.ForcePrimary(cur, node, c.fd, allowEmpty)
	if err != nil {
		c.mu.Unlock()
		return decide.Proposal{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	next, err := decide.ApplyProposal(cur, prop)
	if err != nil {
		c.mu.Unlock()
		return decide.Proposal{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	_, wait := decide.RecoveryCandidate(cur, c.fd)
	rep, _ := c.fd.Report(node, g)
	c.mu.Unlock()

	res := c.commit(t, []change{{proposal: prop, base: cur, rev: rev, next: next}})
	if err := res[0].Err; err != nil {
		return decide.Proposal{}, err
	}
	c.log.Warn("AUDIT ddd_diagnose: operator override of a DDD partition", "gpid", g.String(),
		"operator", operator, "new_primary", node, "allow_empty", allowEmpty, "was", wait.String(),
		"config_before", cur.String(), "ballot", next.Ballot,
		"node_member_ballot", rep.MemberBallot, "node_committed", rep.LastCommittedDecree,
		"node_prepared", rep.LastPreparedDecree, "last_known_committed", cur.LastCommittedDecree)
	return prop, nil
}
