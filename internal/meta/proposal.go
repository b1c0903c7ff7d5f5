package meta

import (
	"context"
	"errors"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// ForceUpdateBallot is Pegasus' CT_PRIMARY_FORCE_UPDATE_BALLOT, numbered as
// the rpc enum: the primary asks for its own configuration again under
// ballot+1. decide's Apply does not know it because it changes no
// membership; the controller writes it directly. A replica core uses it in
// two cases: a restarted primary may not create entries under a ballot it
// may have used before its crash, and a primary withdraws an upgrade
// proposal for a learner that went silent (only a new ballot voids it).
const ForceUpdateBallot decide.ConfigType = 9

// ReplicaProposal is a configuration change a primary asks for.
type ReplicaProposal struct {
	Gpid decide.Gpid
	// Type is UpgradeToSecondary (a caught-up learner), DowngradeToInactive
	// (a member that stopped acknowledging prepares, or a learner given
	// up on), Remove, or ForceUpdateBallot.
	Type decide.ConfigType
	Node string
	// Ballot is the proposer's ballot; the proposal applies only if it is
	// still the partition's.
	Ballot int64
	// LastCommittedDecree is the primary's commit point.
	LastCommittedDecree int64
	// Incarnation is, for UpgradeToSecondary, the copy of Node the primary
	// saw catch up (zero from an older replica server).
	Incarnation uint64
}

// ProposalResult is the outcome of one ReplicaProposal.
type ProposalResult struct {
	// Config is the new configuration when Err is nil, else the one the
	// meta server holds, so a proposer on a stale ballot catches up.
	Config decide.PartitionConfig
	Err    error
}

// Propose applies proposals from replica server proposer, each as its own
// compare-and-swap, and pushes the new configurations to the members. It
// fails as a whole only on a follower (*NotLeaderError).
//
// A proposal is accepted when it comes from the partition's primary, at
// the partition's ballot, from an alive node, and passes decide's rules.
// The level must allow cure (steady or lively), but the failure detector
// need not have settled after a leader change: removing a member that
// stopped acknowledging takes no role from anyone, and a learner the
// primary just finished teaching is alive by the primary's own account.
// Waiting for the settle period would stall writes on a failed secondary
// for a whole grace period after every meta failover.
func (c *Controller) Propose(ctx context.Context, proposer string, props []ReplicaProposal) ([]ProposalResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]ProposalResult, len(props))
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	level, why := c.effectiveLevelLocked(c.clock.Now(), false)
	var changes []change
	var at []int // changes[j] answers props[at[j]]
	seen := make(map[decide.Gpid]bool, len(props))
	for i, p := range props {
		cur, rev, ok := c.cache.config(p.Gpid)
		if !ok {
			results[i].Err = fmt.Errorf("%w: %s", ErrUnknownPartition, p.Gpid)
			continue
		}
		results[i].Config = cur
		next, err := c.checkProposalLocked(cur, proposer, p, level, why, seen[p.Gpid])
		if err != nil {
			results[i].Err = err
			continue
		}
		seen[p.Gpid] = true
		c.noteCommittedLocked(&next)
		next.LastCommittedDecree = max(next.LastCommittedDecree, p.LastCommittedDecree)
		prop := decide.Proposal{Gpid: p.Gpid, Ballot: p.Ballot, Reason: "proposed by " + proposer}
		if p.Type != ForceUpdateBallot {
			prop.Actions = []decide.Action{c.proposalAction(proposer, p)}
		}
		changes = append(changes, change{proposal: prop, base: cur, rev: rev, next: next})
		at = append(at, i)
	}
	c.mu.Unlock()

	for j, r := range c.commit(t, changes) {
		i := at[j]
		results[i].Err = r.Err
		var ce *ConflictError
		switch {
		case r.Err == nil:
			results[i].Config = r.next
		case errors.As(r.Err, &ce) && ce.Exists:
			results[i].Config = ce.Current
		}
	}
	return results, nil
}

// checkProposalLocked validates p against cur and returns the
// configuration to write.
func (c *Controller) checkProposalLocked(cur decide.PartitionConfig, proposer string, p ReplicaProposal,
	level decide.Level, why string, dup bool) (decide.PartitionConfig, error) {
	switch p.Type {
	case decide.UpgradeToSecondary, decide.DowngradeToInactive, decide.Remove, ForceUpdateBallot:
	default:
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s for %s", ErrUnsupportedProposal, p.Type, p.Gpid)
	}
	if !level.AllowsCure() {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s does not accept replica proposals (%s)", ErrLevelForbids, level, why)
	}
	if dup || p.Ballot != cur.Ballot {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s proposal at ballot %d, the meta server is at %d",
			decide.ErrStaleProposal, p.Gpid, p.Ballot, cur.Ballot)
	}
	if proposer == "" || proposer != cur.Primary {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s: proposer %q, primary %q", ErrNotPrimary, p.Gpid, proposer, cur.Primary)
	}
	if !c.fd.Alive(proposer) {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s: proposer %s", decide.ErrNodeNotAlive, p.Gpid, proposer)
	}
	if p.Type == ForceUpdateBallot {
		if p.Node != "" && p.Node != proposer {
			return decide.PartitionConfig{}, fmt.Errorf("%w: %s: forced ballot update for %s proposed by %s",
				ErrInvalidArgument, p.Gpid, p.Node, proposer)
		}
		next := cur.Clone()
		next.Ballot++
		return next, nil
	}
	prop := decide.Proposal{Gpid: p.Gpid, Ballot: p.Ballot, Actions: []decide.Action{c.proposalAction(proposer, p)}}
	if err := decide.CheckAlive(prop, c.fd.Alive); err != nil {
		return decide.PartitionConfig{}, err
	}
	if err := decide.CheckIncarnation(prop, c.fd); err != nil {
		return decide.PartitionConfig{}, err
	}
	return decide.ApplyProposal(cur, prop)
}

// proposalAction is the action a replica's proposal asks for. A node being
// dropped is recorded with the copy it last reported (recovery checks that
// a returning node still holds that copy); an upgrade names the copy the
// primary saw catch up.
func (c *Controller) proposalAction(proposer string, p ReplicaProposal) decide.Action {
	a := decide.Action{Type: p.Type, Target: proposer, Node: p.Node, Incarnation: p.Incarnation}
	if p.Type == decide.DowngradeToInactive {
		rep, _ := c.fd.Report(p.Node, p.Gpid)
		a.Incarnation = rep.Incarnation
	}
	return a
}
