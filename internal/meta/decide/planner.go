package decide

import (
	"time"
)

// Planner ties the failure detector, the guardian and the balancer together
// under the meta function level. The leader's driver calls Plan every
// lb_interval_ms (and may call FailureDetector.Check more often); it writes
// each returned proposal with ApplyProposal in one etcd transaction that
// compares the stored ballot, then pushes the new configurations.
type Planner struct {
	knobs    Knobs
	guardian Guardian
	balancer Balancer
}

// NewPlanner returns a planner with the given knobs.
func NewPlanner(k Knobs) *Planner { return &Planner{knobs: k} }

// Knobs returns the current knobs.
func (p *Planner) Knobs() Knobs { return p.knobs }

// SetKnob changes one knob (Knobs.Set). Leaving lively for steady or below
// drops the balancer's pending moves, as Pegasus does when set_meta_level
// leaves lively: an operator who stops balancing expects nothing more to
// move. Setting steady again while steady keeps them: a maintenance tool
// renews its level override while moves it asked for (copy_sec) run.
func (p *Planner) SetKnob(name, value string) error {
	old := p.knobs.Level
	if err := p.knobs.Set(name, value); err != nil {
		return err
	}
	if name == KnobFunctionLevel && old.AllowsBalance() && !p.knobs.Level.AllowsBalance() {
		p.balancer.Clear()
	}
	return nil
}

// SetLevel sets the configured level and returns the previous one, with
// SetKnob's effect on pending moves.
func (p *Planner) SetLevel(l Level) (old Level) {
	old = p.knobs.Level
	p.knobs.Level = l
	if old.AllowsBalance() && !l.AllowsBalance() {
		p.balancer.Clear()
	}
	return old
}

// CopySecondary registers an operator's copy of one secondary
// (Balancer.CopySecondary) and returns the first proposal to write.
func (p *Planner) CopySecondary(l *Layout, nodes NodeView, g Gpid, from, to string) (Proposal, error) {
	return p.balancer.CopySecondary(l, nodes, g, from, to)
}

// Moves counts the balancer moves in progress by kind.
func (p *Planner) Moves() MoveCounts { return p.balancer.Counts() }

// Plan is the outcome of one planning round.
type Plan struct {
	// Events are the node state changes found by this round's Check.
	Events []NodeEvent
	// Unfenced are the fenced nodes released this round because they no
	// longer hold any role.
	Unfenced []string
	// Level is the effective level the round acted on.
	Level Level
	// Freeze explains an effective level below the configured one.
	Freeze Freeze
	// Proposals are to be written in order; at most one per partition.
	Proposals []Proposal
	// Waiting lists partitions the guardian deliberately left alone.
	Waiting []Waiting
	// BalanceOps counts balancer moves in progress.
	BalanceOps int
	// BalanceBlocked says why the balancer started nothing new, if it ran.
	BalanceBlocked string
	// Balanced: the balancer ran (level lively), found nothing to do and
	// has no move in progress: the layout is as even as it can make it.
	Balanced bool
	// Errors are internal inconsistencies found by the guardian (see
	// CureResult.Errors); the driver logs them.
	Errors []error
}

// Plan runs one round at now over layout:
//
//  1. fenced nodes that no longer hold any role are unfenced, so a node
//     that restarted after being drained comes back without a detour
//     through "dead";
//  2. fd.Check(now) updates liveness;
//  3. the effective level is computed (auto-freeze, and freezed while the
//     failure detector has not settled after a leader change);
//  4. the guardian proposes repairs; at lively, the balancer continues and
//     starts moves on partitions the guardian left untouched; at steady it
//     only continues the moves in progress (an operator's copy_sec). Below
//     steady, auto-freeze included, pending balancer moves are dropped.
func (p *Planner) Plan(now time.Time, layout *Layout, fd *FailureDetector) Plan {
	var plan Plan
	for _, n := range fd.Fenced() {
		if layout.Load(n).Roles() == 0 {
			fd.Unfence(n)
			plan.Unfenced = append(plan.Unfenced, n)
		}
	}
	plan.Events = fd.Check(now)
	alive, total := fd.Counts()
	plan.Level, plan.Freeze = EffectiveLevel(p.knobs.Level, alive, total, p.knobs)
	if plan.Level > LevelFreezed && !fd.Settled(now) {
		plan.Level = LevelFreezed
		plan.Freeze = Freeze{Reason: "failure detector settling after leader change"}
	}
	if !plan.Level.AllowsCure() {
		p.balancer.Clear()
	}
	cure := p.guardian.Cure(CureInput{
		Now:          now,
		Level:        plan.Level,
		Knobs:        p.knobs,
		Layout:       layout,
		Nodes:        fd,
		BalancerOwns: p.balancer.Owns,
	})
	plan.Proposals, plan.Waiting, plan.Errors = cure.Proposals, cure.Waiting, cure.Errors
	if plan.Level.AllowsCure() {
		touched := make(map[Gpid]bool, len(cure.Proposals))
		for _, pr := range cure.Proposals {
			touched[pr.Gpid] = true
		}
		in := BalanceInput{Layout: layout, Nodes: fd, Busy: func(g Gpid) bool { return touched[g] }}
		var bal BalanceResult
		if plan.Level.AllowsBalance() {
			bal = p.balancer.Balance(in)
			plan.Balanced = bal.Balanced()
		} else {
			bal = p.balancer.Continue(in)
		}
		plan.Proposals = append(plan.Proposals, bal.Proposals...)
		plan.BalanceOps = bal.Pending
		plan.BalanceBlocked = bal.Blocked
	}
	return plan
}
