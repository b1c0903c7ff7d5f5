package decide

import (
	"fmt"
	"slices"
)

// ActionError says why an action is not valid against a configuration. It
// matches both ErrInvalidAction and its specific cause under errors.Is.
type ActionError struct {
	Gpid   Gpid
	Ballot int64
	Action Action
	Err    error
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("%v: %s@%d %s: %v", ErrInvalidAction, e.Gpid, e.Ballot, e.Action, e.Err)
}

func (e *ActionError) Unwrap() []error { return []error{ErrInvalidAction, e.Err} }

// Apply computes the configuration that results from one action: the new
// membership with Ballot+1. It checks the action the way Pegasus' meta
// server checks queued proposals (from_proposals), except liveness, which
// CheckAlive covers. cfg is not modified.
func Apply(cfg PartitionConfig, a Action) (PartitionConfig, error) {
	next := cfg.Clone()
	if err := applyInPlace(&next, a); err != nil {
		return PartitionConfig{}, err
	}
	next.Ballot = cfg.Ballot + 1
	return next, nil
}

// ApplyProposal applies every action of p in order and returns the single
// resulting configuration with Ballot+1. Each action is checked against the
// state the previous ones left, so [DowngradeToSecondary(p), UpgradeToPrimary(s)]
// is a valid handover. p must have been computed against cfg's ballot: a
// proposal from an older ballot was decided on facts that no longer hold.
func ApplyProposal(cfg PartitionConfig, p Proposal) (PartitionConfig, error) {
	if p.Gpid != cfg.Gpid {
		return PartitionConfig{}, fmt.Errorf("%w: proposal for %s applied to %s", ErrWrongPartition, p.Gpid, cfg.Gpid)
	}
	if p.Ballot != cfg.Ballot {
		return PartitionConfig{}, fmt.Errorf("%w: %s proposal at ballot %d, config at %d", ErrStaleProposal, p.Gpid, p.Ballot, cfg.Ballot)
	}
	if len(p.Actions) == 0 {
		return PartitionConfig{}, fmt.Errorf("%w: %s", ErrEmptyProposal, p.Gpid)
	}
	next := cfg.Clone()
	for _, a := range p.Actions {
		if err := applyInPlace(&next, a); err != nil {
			return PartitionConfig{}, err
		}
	}
	next.Ballot = cfg.Ballot + 1
	return next, nil
}

// CheckAlive verifies that every node a proposal gives a role to, and every
// primary asked to bring in a learner, is alive. Removing roles needs no
// liveness: the meta server itself takes roles away from dead nodes.
func CheckAlive(p Proposal, alive func(node string) bool) error {
	for _, a := range p.Actions {
		var need []string
		switch a.Type {
		case AssignPrimary, UpgradeToPrimary, UpgradeToSecondary, DowngradeToSecondary:
			need = []string{a.Node}
		case AddSecondary:
			need = []string{a.Target, a.Node}
		}
		for _, n := range need {
			if !alive(n) {
				return fmt.Errorf("%w: %s %s needs %s", ErrNodeNotAlive, p.Gpid, a, n)
			}
		}
	}
	return nil
}

// CheckIncarnation verifies that an UpgradeToSecondary names the copy the
// node reports now: a primary proposes the upgrade for the copy it saw catch
// up, and a copy created since (the replica was deleted and recreated,
// empty) must not become a member on its strength. Unknown incarnations
// (zero, from an older version) pass.
func CheckIncarnation(p Proposal, nodes NodeView) error {
	for _, a := range p.Actions {
		if a.Type != UpgradeToSecondary || a.Incarnation == 0 {
			continue
		}
		rep, ok := nodes.Report(a.Node, p.Gpid)
		if !ok || (rep.Incarnation != 0 && rep.Incarnation != a.Incarnation) {
			return fmt.Errorf("%w: %s: %s reports copy %#x, the primary saw %#x catch up",
				ErrUnexpectedIncarnation, p.Gpid, a.Node, rep.Incarnation, a.Incarnation)
		}
	}
	return nil
}

// applyInPlace checks a against c and changes c; on error c may be partly
// changed, so callers work on a clone.
func applyInPlace(c *PartitionConfig, a Action) error {
	fail := func(err error) error {
		return &ActionError{Gpid: c.Gpid, Ballot: c.Ballot, Action: a, Err: err}
	}
	if a.Node == "" {
		return fail(ErrTargetMismatch)
	}
	role := c.RoleOf(a.Node)
	switch a.Type {
	case AssignPrimary:
		// A new primary for a partition without any, or recovery from the
		// last dropped node. The node must hold no other role: a secondary
		// is promoted with UpgradeToPrimary, and a learner has no full copy.
		switch {
		case a.Target != a.Node:
			return fail(ErrTargetMismatch)
		case c.Primary != "":
			return fail(ErrHasPrimary)
		case role != RoleNone:
			return fail(ErrAlreadyMember)
		}
		c.Primary = a.Node
		dropsRemove(c, a.Node)
		// Learners learn from a primary; a new primary starts afresh.
		c.Learners = nil

	case UpgradeToPrimary:
		switch {
		case a.Target != a.Node:
			return fail(ErrTargetMismatch)
		case c.Primary != "":
			return fail(ErrHasPrimary)
		case role != RoleSecondary:
			return fail(ErrNotSecondary)
		}
		c.Secondaries = remove(c.Secondaries, a.Node)
		c.Primary = a.Node
		c.Learners = nil

	case AddSecondary:
		switch {
		case c.Primary == "":
			return fail(ErrNoPrimary)
		case a.Target != c.Primary:
			return fail(ErrTargetMismatch)
		case role != RoleNone:
			return fail(ErrAlreadyMember)
		// One replica beyond max_replica_count is allowed (Pegasus
		// CT_ADD_SECONDARY_FOR_LB): a balancer copy adds the new replica
		// before it removes the old one.
		case c.ReplicaCount()+len(c.Learners) >= int(c.MaxReplicaCount)+1:
			return fail(ErrGroupFull)
		}
		c.Learners = append(c.Learners, a.Node)

	case UpgradeToSecondary:
		switch {
		case c.Primary == "":
			return fail(ErrNoPrimary)
		case a.Target != c.Primary:
			return fail(ErrTargetMismatch)
		case role != RoleLearner:
			return fail(ErrNotLearner)
		}
		c.Learners = remove(c.Learners, a.Node)
		c.Secondaries = append(c.Secondaries, a.Node)
		dropsRemove(c, a.Node)

	case DowngradeToSecondary:
		switch {
		case c.Primary == "":
			return fail(ErrNoPrimary)
		case a.Target != a.Node || a.Node != c.Primary:
			return fail(ErrTargetMismatch)
		}
		c.Primary = ""
		c.Secondaries = append(c.Secondaries, a.Node)
		c.Learners = nil

	case DowngradeToInactive:
		switch role {
		case RolePrimary:
			// The meta server downgrades a dead primary itself.
			if a.Target != a.Node {
				return fail(ErrTargetMismatch)
			}
			dropsPush(c, a.Node, DropDetail{MemberBallot: c.Ballot, Incarnation: a.Incarnation, MinPrimaryBallot: a.MinPrimaryBallot})
			c.Primary = ""
			c.Learners = nil
		case RoleSecondary, RoleLearner:
			// Target is the primary; for a partition without primary the
			// meta server removes dead members itself with an empty target.
			if a.Target != c.Primary {
				return fail(ErrTargetMismatch)
			}
			if role == RoleSecondary {
				c.Secondaries = remove(c.Secondaries, a.Node)
				dropsPush(c, a.Node, DropDetail{MemberBallot: c.Ballot, Incarnation: a.Incarnation, MinPrimaryBallot: a.MinPrimaryBallot})
			} else {
				// A learner never had a full copy: it is no recovery
				// candidate, so it does not enter last_drops.
				c.Learners = remove(c.Learners, a.Node)
			}
		default:
			return fail(ErrNotMember)
		}

	case Remove:
		switch {
		case c.Primary == "":
			return fail(ErrNoPrimary)
		case a.Target != c.Primary:
			return fail(ErrTargetMismatch)
		case role == RolePrimary:
			return fail(ErrIsPrimary)
		case role == RoleSecondary:
			c.Secondaries = remove(c.Secondaries, a.Node)
		case role == RoleLearner:
			c.Learners = remove(c.Learners, a.Node)
		default:
			return fail(ErrNotMember)
		}

	default:
		return fail(ErrUnknownConfigType)
	}
	return nil
}

// remove returns s without node, in a fresh slice so that configs sharing a
// backing array with a caller's copy are never written through.
func remove(s []string, node string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if x != node {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// dropsPush records node as the most recent drop (Pegasus maintain_drops),
// with what the meta server knows of it: an older entry for it moves to the
// end, and the oldest entry falls off beyond maxLastDrops. The ballot in the
// detail is the one of the configuration that still listed the node (c's,
// before the change that drops it is applied).
func dropsPush(c *PartitionConfig, node string, d DropDetail) {
	details := make([]DropDetail, len(c.LastDrops))
	for i := range c.LastDrops {
		details[i] = c.dropDetail(i)
	}
	var drops []string
	var kept []DropDetail
	for i, n := range c.LastDrops {
		if n != node {
			drops = append(drops, n)
			kept = append(kept, details[i])
		}
	}
	drops = append(drops, node)
	kept = append(kept, d)
	if len(drops) > maxLastDrops {
		drops = drops[len(drops)-maxLastDrops:]
		kept = kept[len(kept)-maxLastDrops:]
	}
	c.LastDrops, c.LastDropDetails = slices.Clone(drops), slices.Clone(kept)
}

// dropsRemove forgets node once it is a member again.
func dropsRemove(c *PartitionConfig, node string) {
	i := slices.Index(c.LastDrops, node)
	if i < 0 {
		return
	}
	drops := slices.Delete(slices.Clone(c.LastDrops), i, i+1)
	if len(drops) == 0 {
		drops = nil
	}
	if len(c.LastDropDetails) == len(c.LastDrops) && len(c.LastDrops) > 0 {
		c.LastDropDetails = slices.Delete(slices.Clone(c.LastDropDetails), i, i+1)
		if len(c.LastDropDetails) == 0 {
			c.LastDropDetails = nil
		}
	}
	c.LastDrops = drops
}
