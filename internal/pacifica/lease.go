package pacifica

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Read leases and the promises behind them (doc.go, "Reads and leases",
// gives the whole argument; this file is its mechanics).
//
// A primary P of ballot b serves a read at time t only if every node whose
// acknowledgement its commits need (secondaries, and learners whose upgrade
// it proposed) acknowledged, at ballot b, a message P sent at time s with
// t < s + Lease. Messages carry their send time on P's clock (SentAt) and
// acknowledgements echo the latest one the follower accepted, so P measures
// the whole lease on its own clock.
//
// A follower that accepts a message from P at ballot b promises P not to
// help anyone else commit until its receive time + Grace, on its own clock:
// a hold on (P, b). It records holds it learns of from others (its primary's
// prepares, members' acknowledgements) the same way, as "until receive time
// + remaining", which is never earlier than the truth since a message is
// received after it was sent. No clock is ever compared with another's.
//
// A primary of a newer ballot commits nothing and serves no read until no
// hold on a different primary of a lower ballot is left: each expired, or
// was voided because that primary was seen at a ballot above the hold's
// (it entered a newer ballot, so it stopped serving under the old one
// before it sent that message). It learns every member's holds from their
// acknowledgements at its ballot before it decides, and it passes its own
// on to its followers in its prepares until it has decided, so that the
// holds survive its own failure or a graceful handover.

// holdKey names a primary role: node primary as the primary of ballot.
type holdKey struct {
	primary NodeID
	ballot  Ballot
}

func (k holdKey) compare(o holdKey) int {
	if c := cmp.Compare(k.ballot, o.ballot); c != 0 {
		return c
	}
	return cmp.Compare(k.primary, o.primary)
}

// Hold tells a replica that Primary may still be serving reads as the
// primary of Ballot for up to Remaining, measured by the sender when it
// made the message. The receiver adds Remaining to its own receive time.
type Hold struct {
	Primary   NodeID
	Ballot    Ballot
	Remaining time.Duration
}

// HoldRef names a hold without its time: what a replica persists so that a
// restart, which forgets every time, can restore the hold conservatively
// (until restart + Grace).
type HoldRef struct {
	Primary NodeID
	Ballot  Ballot
}

// maxPersistedHolds bounds HardState.Holds. Holds exist only for the few
// seconds after a primary changes without a graceful handover, so more than
// a handful means a storm of failovers; the newest ballots are kept.
const maxPersistedHolds = 8

// leaseState is the replica-wide part of the lease machinery, kept across
// roles: a replica's promises outlive its following a primary.
type leaseState struct {
	// holds maps a primary role to the end of the hold on it (exclusive).
	holds map[holdKey]Time
	// seen is the highest ballot each node was seen at, in any message: a
	// node seen at ballot B has left every lower ballot, so holds on it
	// below B are void.
	seen map[NodeID]Ballot
	// persistedStale: a hold the last HardState lists is gone; the next
	// tick has the list rewritten.
	persistedStale bool
}

func newLeaseState() leaseState {
	return leaseState{holds: make(map[holdKey]Time), seen: make(map[NodeID]Ballot)}
}

// advanceTime records the current time; the core's clock never goes back.
func (r *Replica) advanceTime(now Time) {
	if now > r.now {
		r.now = now
	}
}

// promise records that this replica accepted a message from primary as the
// primary of ballot at r.now (the driver fed the time before the message,
// so r.now is not earlier than its arrival).
func (r *Replica) promise(primary NodeID, ballot Ballot) {
	if primary == r.id {
		return
	}
	r.setHold(holdKey{primary, ballot}, r.now.Add(r.cfg.Grace))
}

// setHold extends the hold k to until.
func (r *Replica) setHold(k holdKey, until Time) {
	cur, ok := r.lease.holds[k]
	if !ok && !r.impliedByHardState(k) {
		r.hardDirty = true
	}
	if !ok || until > cur {
		r.lease.holds[k] = until
	}
}

// deleteHold drops the hold k. The persisted list is rewritten for it at
// the next tick, not at once: a graceful handover voids the old primary's
// hold in one round trip, and an extra write then would delay the first
// commits. Left on disk for long, a stale hold would make a restart wait a
// grace period for a primary that is long gone.
func (r *Replica) deleteHold(k holdKey) {
	if _, ok := r.lease.holds[k]; !ok {
		return
	}
	delete(r.lease.holds, k)
	for _, h := range r.handedHard.Holds {
		if h.Primary == k.primary && h.Ballot == k.ballot {
			r.lease.persistedStale = true
			return
		}
	}
}

// mergeHolds records holds another replica reported, received at r.now. A
// hold on this replica itself is dropped (it knows it is not serving), as is
// one on a node already seen at a higher ballot. Remaining is capped at
// Grace, which no honest hold exceeds.
func (r *Replica) mergeHolds(hs []Hold) {
	for _, h := range hs {
		if h.Primary == r.id || h.Primary == "" || h.Remaining <= 0 || r.lease.seen[h.Primary] > h.Ballot {
			continue
		}
		r.setHold(holdKey{h.Primary, h.Ballot}, r.now.Add(min(h.Remaining, r.cfg.Grace)))
	}
}

// noteSeen records that node is at ballot b or above, voiding the holds on
// it below b.
func (r *Replica) noteSeen(node NodeID, b Ballot) {
	if node == "" || b <= r.lease.seen[node] {
		return
	}
	r.lease.seen[node] = b
	for k := range r.lease.holds {
		if k.primary == node && k.ballot < b {
			r.deleteHold(k)
		}
	}
}

// expireHolds drops the holds that ended at or before r.now.
func (r *Replica) expireHolds() {
	for k, until := range r.lease.holds {
		if until <= r.now {
			r.deleteHold(k)
		}
	}
}

// clearHoldsBelow drops every hold on a primary of a ballot below b: the
// primary of b decided that none of those primaries can serve any more.
func (r *Replica) clearHoldsBelow(b Ballot) {
	for k := range r.lease.holds {
		if k.ballot < b {
			r.deleteHold(k)
		}
	}
}

// reportHolds lists the unexpired holds for a message to to, leaving out
// holds on to itself (it knows whether it serves).
func (r *Replica) reportHolds(to NodeID) []Hold {
	var out []Hold
	for k, until := range r.lease.holds {
		if k.primary == to || until <= r.now {
			continue
		}
		out = append(out, Hold{Primary: k.primary, Ballot: k.ballot, Remaining: until.Sub(r.now)})
	}
	slices.SortFunc(out, func(a, b Hold) int {
		return holdKey{a.Primary, a.Ballot}.compare(holdKey{b.Primary, b.Ballot})
	})
	return out
}

// blockingHold returns a hold that keeps this primary from committing and
// serving: on another node, as primary of a lower ballot, not yet expired.
func (r *Replica) blockingHold() (holdKey, Time, bool) {
	var (
		found bool
		key   holdKey
		end   Time
	)
	for k, until := range r.lease.holds {
		if k.primary == r.id || k.ballot >= r.ballot || until <= r.now {
			continue
		}
		if !found || until > end || (until == end && k.compare(key) < 0) {
			found, key, end = true, k, until
		}
	}
	return key, end, found
}

// impliedByHardState reports whether the hold k needs no entry in
// HardState.Holds: it is on the primary of the replica's ballot, at or below
// that ballot, which HardState.Primary restores at least as strongly.
func (r *Replica) impliedByHardState(k holdKey) bool {
	return k.primary == r.ballotPrimary && k.ballot <= r.ballot
}

// persistedHolds is HardState.Holds: every hold but those on the primary of
// the replica's own ballot, which HardState.Primary already names: after a
// restart the hold on it at that ballot is at least as strong (it lasts as
// long, and only a message from that primary at a higher ballot voids it).
func (r *Replica) persistedHolds() []HoldRef {
	var keys []holdKey
	for k := range r.lease.holds {
		if r.impliedByHardState(k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b holdKey) int { return b.compare(a) })
	if len(keys) > maxPersistedHolds {
		keys = keys[:maxPersistedHolds]
	}
	out := make([]HoldRef, len(keys))
	for i, k := range keys {
		out[i] = HoldRef{Primary: k.primary, Ballot: k.ballot}
	}
	slices.SortFunc(out, func(a, b HoldRef) int {
		return holdKey{a.Primary, a.Ballot}.compare(holdKey{b.Primary, b.Ballot})
	})
	return out
}

// maybeClear decides, once per primary tenure, that no old primary can be
// serving any more: every node that counts for commit has been heard at
// this ballot (so its holds are known) and no hold blocks. From then on
// holds learned later are stale (doc.go): the primary commits and serves
// freely and tells its followers to drop their holds.
func (r *Replica) maybeClear() bool {
	if r.status != StatusPrimary {
		return false
	}
	if r.prim.cleared {
		return true
	}
	r.expireHolds()
	for _, t := range r.prim.trackers {
		if t.countsForCommit() && !t.heard {
			return false
		}
	}
	if _, _, blocked := r.blockingHold(); blocked {
		return false
	}
	r.prim.cleared = true
	return true
}

// Waiting says what keeps a new primary from committing and serving: a
// member not heard at its ballot yet, or a hold on an old primary and what
// is left of it. Empty on a primary that has cleared, and on any other
// replica. For logs and status pages; it changes nothing.
func (r *Replica) Waiting() string {
	if r.status != StatusPrimary || r.prim.cleared {
		return ""
	}
	for _, t := range r.prim.trackers {
		if t.countsForCommit() && !t.heard {
			return fmt.Sprintf("member %s not heard at ballot %d yet", t.node, r.ballot)
		}
	}
	if k, until, ok := r.blockingHold(); ok {
		return fmt.Sprintf("the read lease %s may hold as primary of ballot %d, for up to %v more", k.primary, k.ballot, until.Sub(r.now))
	}
	return "its next tick"
}

// ReadState says whether and until when a replica may serve reads. Take it
// after feeding the replica its inputs and check it, with the current time,
// at every read: the lease ends at a fixed time, so a reader on another
// goroutine, or one that comes after a pause of the driver, still gets the
// right answer.
type ReadState struct {
	// Err is why no read may be served whatever the time, or nil.
	Err error
	// LeaseUntil is when the lease from the members ends (exclusive); used
	// unless NeedMetaLease.
	LeaseUntil Time
	// NeedMetaLease: the primary has no member to hold a lease from (a lone
	// primary), or a member too old to grant one; reads need the replica
	// server's lease from the meta server instead.
	NeedMetaLease bool
}

// Check returns nil if a read may be served at now, given the end of the
// server's lease from the meta server (zero if none).
func (s ReadState) Check(now, metaLeaseUntil Time) error {
	switch {
	case s.Err != nil:
		return s.Err
	case s.NeedMetaLease:
		if metaLeaseUntil == 0 || now >= metaLeaseUntil {
			return ErrNoLease
		}
	case s.LeaseUntil == 0 || now >= s.LeaseUntil:
		return ErrNoLease
	}
	return nil
}

// ReadState returns the replica's read state as of its last input.
func (r *Replica) ReadState() ReadState {
	if r.status != StatusPrimary || r.observedBallot > r.ballot {
		return ReadState{Err: r.notPrimary()}
	}
	if !r.prim.cleared {
		return ReadState{Err: ErrOldPrimaryLease}
	}
	if r.applied < r.prim.reconcileTo {
		return ReadState{Err: ErrReconciling}
	}
	counting, legacy := 0, false
	until := Time(1<<63 - 1)
	for _, t := range r.prim.trackers {
		if !t.countsForCommit() {
			continue
		}
		counting++
		legacy = legacy || t.legacy
		if t.grantedAt == 0 {
			until = 0
		} else {
			until = min(until, t.grantedAt.Add(r.cfg.Lease))
		}
	}
	if counting == 0 || legacy {
		return ReadState{NeedMetaLease: true}
	}
	return ReadState{LeaseUntil: until}
}

// CanServeRead reports whether the replica may serve a read at now, given
// the end of the server's lease from the meta server (zero if none). It is
// ReadState().Check(now, metaLeaseUntil).
func (r *Replica) CanServeRead(now, metaLeaseUntil Time) error {
	return r.ReadState().Check(now, metaLeaseUntil)
}
