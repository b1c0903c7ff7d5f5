package pacifica

import (
	"fmt"
	"strings"
)

// String formats an entry id the way Pegasus names mutations: ballot.decree.
func (e Entry) String() string { return fmt.Sprintf("%d.%d", e.Ballot, e.Decree) }

// String formats a request id as client:seq.
func (id RequestID) String() string { return fmt.Sprintf("%d:%d", id.ClientID, id.Seq) }

// String formats a message on one line, for logs and tests.
func (m Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s->%s %s b%d", m.From, m.To, m.Type, m.Ballot)
	switch m.Type {
	case MsgPrepare, MsgLearnLog:
		if m.Status == StatusPotentialSecondary {
			b.WriteString(" learner")
		}
		if m.LearnID != 0 && m.Type == MsgLearnLog {
			fmt.Fprintf(&b, " learn=%d", m.LearnID)
		}
		fmt.Fprintf(&b, " prev=%d.%d commit=%d [", m.PrevBallot, m.PrevDecree, m.Committed)
		for i, e := range m.Entries {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(e.String())
		}
		b.WriteByte(']')
	case MsgPrepareAck, MsgLearnRequest:
		if m.Type == MsgLearnRequest {
			fmt.Fprintf(&b, " learn=%d committed=%d prepared=%d", m.LearnID, m.Committed, m.Decree)
		} else if m.Reject {
			fmt.Fprintf(&b, " reject prev=%d hint=%d", m.PrevDecree, m.Decree)
		} else {
			fmt.Fprintf(&b, " decree=%d", m.Decree)
		}
	case MsgLearnStart, MsgLearnApp:
		fmt.Fprintf(&b, " learn=%d", m.LearnID)
	}
	if len(m.Holds) > 0 {
		b.WriteString(" holds=[")
		for i, h := range m.Holds {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s@b%d:%v", h.Primary, h.Ballot, h.Remaining)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// String formats a reply on one line.
func (r Reply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s decree=%d", r.ID, r.Decree)
	if r.Duplicate {
		b.WriteString(" duplicate")
	}
	if r.Err != nil {
		fmt.Fprintf(&b, " err=%q", r.Err)
	}
	return b.String()
}

// String formats a proposal on one line.
func (p ConfigProposal) String() string {
	return fmt.Sprintf("%s %s b%d", p.Type, p.Node, p.Ballot)
}

// Debug describes the replica's state in a few stable lines, for tests and
// debugging endpoints.
func (r *Replica) Debug() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s b%d", r.id, r.status, r.ballot)
	if r.primary != "" && r.status != StatusPrimary {
		fmt.Fprintf(&b, " primary=%s", r.primary)
	}
	fmt.Fprintf(&b, " prepared=%d committed=%d applied=%d", r.log.last(), r.committed, r.applied)
	if r.log.stable != r.log.last() {
		fmt.Fprintf(&b, " durable=%d", r.log.stable)
	}
	if r.observedBallot > r.ballot {
		fmt.Fprintf(&b, " stale(b%d)", r.observedBallot)
	}
	if r.status == StatusError {
		fmt.Fprintf(&b, " err=%q", r.err)
	}
	if r.status == StatusPrimary && r.applied < r.prim.reconcileTo {
		fmt.Fprintf(&b, " reconciling-to=%d", r.prim.reconcileTo)
	}
	if hs := r.reportHolds(""); len(hs) > 0 {
		b.WriteString(" holds=[")
		for i, h := range hs {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s@b%d:%v", h.Primary, h.Ballot, h.Remaining)
		}
		b.WriteByte(']')
	}
	for _, t := range r.prim.trackers {
		fmt.Fprintf(&b, "\n  %s:", t.node)
		if t.learner {
			fmt.Fprintf(&b, " learner(%s)", t.phase)
		}
		if t.upgrading {
			b.WriteString(" upgrading")
		}
		fmt.Fprintf(&b, " acked=%d sent=%d", t.acked, t.sent)
	}
	return b.String()
}

func (p trackerPhase) String() string {
	switch p {
	case phaseLearnStarting:
		return "starting"
	case phaseStreaming:
		return "streaming"
	case phaseAwaitingCheckpoint:
		return "checkpoint"
	case phaseUnreachable:
		return "unreachable"
	default:
		return "unknown"
	}
}
