package meta

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// RoundReport says what one planning round did.
type RoundReport struct {
	// Plan is decide's output: node events, effective level, proposals,
	// partitions left waiting.
	Plan decide.Plan
	// Applied are the proposals the store took, in order.
	Applied []decide.Proposal
	// Failed are the proposals that were not written, with why: lost
	// races (another writer changed the partition first), liveness or
	// store failures. The next round decides again on fresh state.
	Failed []ProposalError
}

// ProposalError is a proposal that was not applied.
type ProposalError struct {
	Proposal decide.Proposal
	Err      error
}

// Round runs one planning round (every lb_interval_ms on the leader):
// failure detection, dead-node removal, cure and, at level lively,
// balancing (decide.Planner.Plan), then writes every proposal and pushes
// the results. It returns a *NotLeaderError on a follower. ctx only stops
// a round from starting: once proposals are made, they are written under
// the term's context (see commit).
func (c *Controller) Round(ctx context.Context) (RoundReport, error) {
	if err := ctx.Err(); err != nil {
		return RoundReport{}, err
	}
	c.expireOverrides(ctx)
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return RoundReport{}, err
	}
	now := c.clock.Now()
	plan := c.planner.Plan(now, c.cache.layout, c.fd)
	c.lastPlan = planSummary{level: plan.Level, freeze: plan.Freeze.Reason, balanceOps: plan.BalanceOps, waiting: len(plan.Waiting),
		waits: make(map[decide.Gpid]decide.Waiting, len(plan.Waiting))}
	for _, w := range plan.Waiting {
		c.lastPlan.waits[w.Gpid] = w
		if w.Reason == decide.WaitDroppedNodes {
			c.log.Warn("partition unavailable: "+w.String(), "gpid", w.Gpid.String())
		}
	}
	c.refreshGaugesLocked(plan.Level)
	for _, n := range plan.Unfenced {
		c.log.Info("node released from fence: it holds no role any more", "node", n)
	}
	for _, ev := range plan.Events {
		switch ev.Kind {
		case decide.NodeDead:
			c.log.Warn("node dead", "node", ev.Node, "cause", ev.Cause.String(), "last_beacon", ev.LastBeacon)
		default:
			c.log.Info("node "+ev.Kind.String(), "node", ev.Node)
		}
	}
	for _, e := range plan.Errors {
		c.log.Error("decision core inconsistency; partition left alone this round", "err", e)
	}
	changes, failed := c.prepareLocked(plan.Proposals)
	c.collectUnadmittedLocked()
	c.cfg.Metrics.BallotAboveRecord.Set(float64(c.validClaimsLocked(nil)))
	c.mu.Unlock()

	report := RoundReport{Plan: plan}
	for _, f := range failed {
		report.Failed = append(report.Failed, ProposalError{Proposal: f.proposal, Err: f.Err})
	}
	for _, r := range c.commit(t, changes) {
		if r.Err == nil {
			report.Applied = append(report.Applied, r.proposal)
		} else {
			report.Failed = append(report.Failed, ProposalError{Proposal: r.proposal, Err: r.Err})
		}
	}
	return report, nil
}
