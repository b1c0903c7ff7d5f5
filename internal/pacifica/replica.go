package pacifica

import "slices"

// Replica is the PacificA state machine of one partition replica. It is
// deterministic and does no I/O: the driver feeds it configurations
// (UpdateConfig, AddLearner), messages (Step), client writes (Propose), time
// (Tick) and storage results (LogReadResult, InstallCheckpoint), and
// carries out what Ready returns. A Replica is not safe for concurrent use.
type Replica struct {
	cfg Config
	id  NodeID

	status Status
	// ballot is the newest ballot this replica has entered, from the meta
	// server's configuration or from a primary's message.
	ballot Ballot
	// config is the configuration at ballot as far as known. configKnown is
	// false when the ballot was entered from a primary's message, which names
	// the primary but not the other members.
	config      Configuration
	configKnown bool
	// primary is the primary of ballot, or the node to point clients at.
	primary NodeID
	// ballotPrimary is the primary of ballot (HardState.Primary).
	ballotPrimary NodeID
	// memberBallot is the highest ballot at which this replica was a
	// member (HardState.MemberBallot).
	memberBallot Ballot
	// observedBallot is the highest ballot seen anywhere: in rejections,
	// and in configurations that do not list this replica, which it never
	// enters. Above ballot, this replica's view is stale: it may still
	// finish in-flight work but accepts no new reads or writes, and no
	// message from a primary of a lower ballot. observedPrimary is the
	// primary of observedBallot when a configuration named it.
	observedBallot  Ballot
	observedPrimary NodeID
	// minPrimaryBallot is the lowest ballot at which this replica may act as
	// primary. A restarted replica cannot know which entries it stamped with
	// its last ballot before the crash (they may be lost locally yet present
	// on secondaries), so it must never create entries under that ballot
	// again; it asks the meta server for a fresh one instead.
	minPrimaryBallot Ballot
	// durableBallot is the highest ballot the driver has persisted. A
	// primary accepts writes only once its ballot is durable: then a restart
	// knows every ballot this replica may have written in (minPrimaryBallot),
	// and one node accepts writes in a ballot, once.
	durableBallot Ballot
	// forceBallotPending is set while the configuration names this replica
	// primary at a ballot below minPrimaryBallot.
	forceBallotPending bool
	err                error

	// tick counts Tick calls: the liveness timers (retransmission, failure
	// detection of members, proposal retries) count ticks. now is the
	// newest Time fed; leases and promises use it.
	tick  int64
	now   Time
	lease leaseState

	log replicaLog
	// committed: every entry up to it is committed and this replica's copy
	// is the committed one. On a secondary this is the primary's commit
	// point capped at what the replica verified it shares with the primary.
	committed Decree
	// applyHanded: entries up to it were handed out in Ready.Committed;
	// applied: ... and the driver reported them applied (Advance).
	applyHanded Decree
	applied     Decree
	// inflight holds the request ids of the logged entries above applied
	// (dedup.go); storage knows those at or below it.
	inflight inflightIDs

	follower  followerState
	learner   learnerState
	prim      primaryState
	proposals map[proposalKey]int64 // tick of the last emission, per ballot

	// Outputs collected for the next Ready. hardDirty: something in the
	// HardState may have changed since handedHard was handed out.
	hardDirty          bool
	handedHard         HardState
	msgs               []Message
	replies            []Reply
	configProposals    []ConfigProposal
	logReads           []LogRead
	checkpointRequests []CheckpointRequest

	outstanding *pendingReady
}

type proposalKey struct {
	typ  ConfigType
	node NodeID
}

// DurableState is what a replica recovers from disk on restart.
type DurableState struct {
	// HardState is the last Ready.HardState the driver persisted.
	HardState
	// AppliedDecree is the decree storage holds everything up to.
	AppliedDecree Decree
	// Entries is the effective log from (at most) AppliedDecree+1 on, in
	// decree order: replaying the log records in write order, a record for
	// decree d discards every earlier record for a decree >= d (see doc.go).
	// Entries at or below AppliedDecree are allowed and serve learners.
	Entries []Entry
}

// New returns a replica. With a zero DurableState it is a brand-new, empty
// replica; otherwise it restarts from what the driver replayed. Either way it
// starts inactive and waits for the meta server's configuration. now is the
// driver's clock: a restarted replica forgot when it last promised anything,
// so it holds every primary its HardState names until now + Grace.
func New(cfg Config, state DurableState, now Time) (*Replica, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := validateReplay(state); err != nil {
		return nil, err
	}
	r := &Replica{
		cfg:         cfg,
		id:          cfg.ID,
		status:      StatusInactive,
		ballot:      state.Ballot,
		applied:     state.AppliedDecree,
		applyHanded: state.AppliedDecree,
		committed:   state.AppliedDecree,
		inflight:    make(inflightIDs),
		proposals:   make(map[proposalKey]int64),
		now:         now,
		lease:       newLeaseState(),

		ballotPrimary: state.Primary,
		memberBallot:  state.MemberBallot,
	}
	entries := state.Entries
	if n := len(entries); n > 0 && entries[n-1].Decree < state.AppliedDecree {
		entries = nil // the log ends below storage: nothing in it is needed
	}
	if len(entries) == 0 {
		r.log = newReplicaLog(state.AppliedDecree)
	} else {
		r.log = newReplicaLog(entries[0].Decree - 1)
	}
	for _, e := range entries {
		r.appendEntry(e)
		r.ballot = max(r.ballot, e.Ballot)
		// LastCommitted was stamped by the entry's primary; everything up
		// to it was committed, and this log agreed with that primary up to
		// the entry when it was written, so those decrees hold committed
		// copies.
		r.committed = max(r.committed, e.LastCommitted)
	}
	r.log.stable, r.log.handed = r.log.last(), r.log.last()
	r.observedBallot = r.ballot
	r.durableBallot = r.ballot
	r.minPrimaryBallot = r.ballot + 1
	r.follower.matched = r.committed
	if state.Primary != "" {
		r.promise(state.Primary, state.Ballot)
	}
	for _, h := range state.Holds {
		r.promise(h.Primary, h.Ballot)
	}
	r.handedHard = r.hardState()
	r.hardDirty = false
	return r, nil
}

// validateReplay checks the shape of a replayed log. The effective log of a
// correct replica is contiguous and its ballots never decrease (each replica's
// log is a copy of some primary's prefix, and a primary only appends entries
// of its own, newest, ballot).
func validateReplay(s DurableState) error {
	if s.Ballot < 0 || s.AppliedDecree < 0 || s.MemberBallot < 0 || s.MemberBallot > s.Ballot {
		return errorf(ErrInvalidLog, "bad ballots (%d, member %d) or applied decree %d", s.Ballot, s.MemberBallot, s.AppliedDecree)
	}
	for i, e := range s.Entries {
		if i == 0 && e.Decree > s.AppliedDecree+1 {
			return errorf(ErrInvalidLog, "log starts at %d, storage ends at %d", e.Decree, s.AppliedDecree)
		}
		if i > 0 && e.Decree != s.Entries[i-1].Decree+1 {
			return errorf(ErrInvalidLog, "decree %d follows %d", e.Decree, s.Entries[i-1].Decree)
		}
		if i > 0 && e.Ballot < s.Entries[i-1].Ballot {
			return errorf(ErrInvalidLog, "ballot decreases at decree %d", e.Decree)
		}
		if e.Decree <= 0 || e.Ballot <= 0 || e.LastCommitted >= e.Decree || e.LastCommitted < 0 {
			return errorf(ErrInvalidLog, "malformed entry %v", e)
		}
	}
	return nil
}

// ID returns the replica's node.
func (r *Replica) ID() NodeID { return r.id }

// Status returns the replica's role.
func (r *Replica) Status() Status { return r.status }

// Ballot returns the newest ballot the replica has entered.
func (r *Replica) Ballot() Ballot { return r.ballot }

// MinPrimaryBallot returns the lowest ballot at which this replica may act
// as primary: one above every ballot it had entered when it was opened.
// The process that ran it before entered none at or above it (a ballot is
// persisted before any message of it is sent), and this one is never
// primary below it. Its server reports it, and the meta server hands it to
// the next primary as a bound (Configuration.PrimaryBounds): no hold on this
// node below it needs waiting out.
func (r *Replica) MinPrimaryBallot() Ballot { return r.minPrimaryBallot }

// MemberBallot returns the highest ballot at which the replica was a member.
func (r *Replica) MemberBallot() Ballot { return r.memberBallot }

// HardState returns the replica's persistent state as it stands (what the
// next Ready hands out if it changed).
func (r *Replica) HardState() HardState { return r.hardState() }

// Incarnation returns the replica's Config.Incarnation.
func (r *Replica) Incarnation() uint64 { return r.cfg.Incarnation }

// Primary returns the primary of the replica's ballot (empty if unknown).
func (r *Replica) Primary() NodeID { return r.primary }

// Configuration returns the configuration at Ballot as far as known: when
// the ballot came from a primary's message, only Ballot and Primary are set.
func (r *Replica) Configuration() Configuration {
	c := r.config
	c.Secondaries = slices.Clone(c.Secondaries)
	return c
}

// CommittedDecree returns the replica's commit point.
func (r *Replica) CommittedDecree() Decree { return r.committed }

// PreparedDecree returns the last decree in the replica's log.
func (r *Replica) PreparedDecree() Decree { return r.log.last() }

// AppliedDecree returns the decree the driver reported applied.
func (r *Replica) AppliedDecree() Decree { return r.applied }

// Err returns why the replica is in StatusError, or nil.
func (r *Replica) Err() error { return r.err }

// UpdateConfig applies a configuration pushed by the meta server. A
// configuration from an older ballot is refused with a *StaleBallotError; a
// repeat of the current one is a no-op, so the driver may push the meta
// server's periodic config sync unconditionally.
//
// Only a member enters the configuration's ballot. A configuration that does
// not list this replica (it was removed, or is a learner the primary has not
// contacted yet) only tells it that the ballot exists: it stops acting for
// any older ballot, but keeps its own ballot and member ballot. A node
// outside a configuration must never report that configuration's ballot as
// its own, or recovery would take it for the member that holds the writes
// committed there (issue 14's staggered outage).
func (r *Replica) UpdateConfig(cfg Configuration) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if r.status == StatusError {
		return r.err
	}
	// The bounds hold whatever the ballot of the configuration carrying
	// them: each was true when the node reported it, and stays true.
	for _, h := range cfg.PrimaryBounds {
		r.noteSeen(h.Primary, h.Ballot)
	}
	if cfg.Ballot < r.ballot || (cfg.Ballot < r.observedBallot && cfg.roleOf(r.id) != StatusInactive) {
		return &StaleBallotError{Ballot: max(r.ballot, r.observedBallot), Got: cfg.Ballot}
	}
	role := cfg.roleOf(r.id)
	if role == StatusInactive && cfg.Ballot > r.ballot {
		r.observe(cfg)
		return nil
	}
	if cfg.Ballot == r.ballot {
		if r.configKnown && !r.config.sameMembers(cfg) {
			return errorf(ErrInvalidConfiguration, "ballot %d already has a different membership", cfg.Ballot)
		}
		if r.status == StatusPrimary || r.status == StatusSecondary {
			if r.status != role || r.primary != cfg.Primary {
				return errorf(ErrInvalidConfiguration, "ballot %d makes %s %s, it is %s",
					cfg.Ballot, r.id, role, r.status)
			}
			r.config, r.configKnown = cloneConfiguration(cfg), true
			return nil
		}
		// Inactive or learning at this ballot: the configuration decides.
	}
	prevBallot := r.ballot
	if cfg.Ballot != r.ballot {
		r.enterBallot(cfg.Ballot, cfg.Primary)
	}
	r.config, r.configKnown = cloneConfiguration(cfg), true

	switch role {
	case StatusPrimary:
		r.noteMember(cfg.Ballot)
		if cfg.Ballot < r.minPrimaryBallot {
			r.becomeFollower(StatusInactive, r.id)
			r.forceBallotPending = true
			r.propose(ConfigForceUpdateBallot, r.id)
			return nil
		}
		r.becomePrimary(prevBallot)
	case StatusSecondary:
		r.noteMember(cfg.Ballot)
		r.becomeFollower(StatusSecondary, cfg.Primary)
	default:
		if r.status == StatusPotentialSecondary && cfg.Primary != "" && r.primary == cfg.Primary {
			// Learners are not members; a configuration under the same
			// primary does not interrupt learning.
			return nil
		}
		r.becomeFollower(StatusInactive, cfg.Primary)
	}
	return nil
}

// observe handles a configuration of a newer ballot that does not list this
// replica. A primary or secondary was removed: it stops at once (a primary
// fails its pending writes with a redirection). A learner of the same
// primary goes on learning: the primary's next message brings it into the
// new ballot.
func (r *Replica) observe(cfg Configuration) {
	r.observedBallot = max(r.observedBallot, cfg.Ballot)
	r.observedPrimary = cfg.Primary
	if r.status == StatusPotentialSecondary && cfg.Primary != "" && r.primary == cfg.Primary {
		return
	}
	r.becomeFollower(StatusInactive, cfg.Primary)
}

// noteMember records that this replica is a member of ballot b.
func (r *Replica) noteMember(b Ballot) {
	if b > r.memberBallot {
		r.memberBallot = b
		r.hardDirty = true
	}
}

func cloneConfiguration(c Configuration) Configuration {
	c.Secondaries = slices.Clone(c.Secondaries)
	c.PrimaryBounds = slices.Clone(c.PrimaryBounds)
	return c
}

// enterBallot moves the replica to a newer ballot. Whatever a secondary had
// verified against the previous primary no longer counts: it re-verifies
// against the new one from its commit point, and forgets the entries it
// accepted from the previous primary but has not handed out for writing yet
// (see discardUnhanded).
func (r *Replica) enterBallot(b Ballot, primary NodeID) {
	if r.status != StatusPrimary {
		r.discardUnhanded()
	}
	r.ballot = b
	r.ballotPrimary = primary
	r.hardDirty = true
	r.observedBallot = max(r.observedBallot, b)
	r.configKnown = false
	r.follower = followerState{matched: r.committed}
	r.forceBallotPending = false
	clear(r.proposals)
}

// becomeFollower switches to a non-primary status under primary. A primary
// stepping down fails its pending writes with a redirection to primary.
func (r *Replica) becomeFollower(status Status, primary NodeID) {
	if r.status == StatusPrimary {
		r.stepDown(primary)
	}
	if status != StatusPotentialSecondary {
		r.learner = learnerState{}
	}
	r.status = status
	r.primary = primary
}

// Step processes a message from another replica, received before now (the
// driver reads its clock after the message arrived). A message from an older
// ballot is answered with MsgStaleBallot and reported as a *StaleBallotError;
// the driver may ignore that error.
func (r *Replica) Step(now Time, m Message) error {
	r.advanceTime(now)
	if m.To != r.id {
		return errorf(ErrInvalidMessage, "message for %s delivered to %s", m.To, r.id)
	}
	if r.status == StatusError {
		return r.err
	}
	// Whatever it says, the sender is at m.Ballot: it left every lower
	// ballot, and whatever lease it held there (see lease.go).
	r.noteSeen(m.From, m.Ballot)
	if m.Type == MsgStaleBallot {
		// The sender has moved on. Stop accepting reads and writes until the
		// meta server says what the new configuration is.
		if m.Ballot > r.observedBallot {
			r.observedBallot, r.observedPrimary = m.Ballot, ""
		}
		return nil
	}
	floor := r.ballot
	if m.Type.fromPrimary() {
		// A replica that knows of a newer ballot, even one it is no member
		// of, takes no orders from a primary of an older one: that primary
		// was deposed, and must neither commit nor hold a lease through it.
		floor = max(floor, r.observedBallot)
	}
	if m.Ballot < floor {
		// The sender works for a configuration that no longer exists. Tell
		// it, so an old primary stops accepting writes it could never
		// commit (every member it needs has moved on too).
		r.send(Message{Type: MsgStaleBallot, To: m.From, Ballot: floor})
		return &StaleBallotError{Ballot: floor, Got: m.Ballot}
	}
	switch m.Type {
	case MsgPrepare, MsgLearnLog:
		return r.handlePrepare(m)
	case MsgPrepareAck:
		r.handlePrepareAck(m)
	case MsgLearnStart:
		r.handleLearnStart(m)
	case MsgLearnRequest:
		r.handleLearnRequest(m)
	case MsgLearnApp:
		r.handleLearnApp(m)
	default:
		return errorf(ErrInvalidMessage, "unknown type %d", m.Type)
	}
	return nil
}

// Tick advances the replica's logical clock by one tick and its time to now.
// Ticks drive the liveness timers; time drives leases and promises.
func (r *Replica) Tick(now Time) {
	r.advanceTime(now)
	r.tick++
	r.expireHolds()
	if r.lease.persistedStale {
		r.lease.persistedStale = false
		r.hardDirty = true
	}
	switch r.status {
	case StatusPrimary:
		r.tickPrimary()
		r.maybeCommit()
	case StatusPotentialSecondary:
		r.tickLearner()
	case StatusInactive:
		if r.forceBallotPending {
			r.propose(ConfigForceUpdateBallot, r.id)
		}
	}
}

// send queues m for the next Ready.
func (r *Replica) send(m Message) {
	m.From = r.id
	m.Incarnation = r.cfg.Incarnation
	r.msgs = append(r.msgs, m)
}

// propose queues a configuration proposal for the meta server, at most once
// per ProposalRetryTicks for the same change at the same ballot.
func (r *Replica) propose(typ ConfigType, node NodeID) {
	k := proposalKey{typ: typ, node: node}
	if last, ok := r.proposals[k]; ok && r.tick-last < int64(r.cfg.ProposalRetryTicks) {
		return
	}
	r.proposals[k] = r.tick
	p := ConfigProposal{Type: typ, Node: node, Ballot: r.ballot}
	if t := r.tracker(node); typ == ConfigUpgradeToSecondary && t != nil {
		p.Incarnation = t.incarnation
	}
	r.configProposals = append(r.configProposals, p)
}

// appendEntry appends e to the log and records its request id while it is
// in flight. An entry at or below the applied decree (replayed at restart
// for learners) is in storage, whose request records cover it.
func (r *Replica) appendEntry(e Entry) {
	r.log.append(e)
	if e.Decree > r.applied {
		r.inflight.add(e.RequestID, e.Decree)
	}
}

// truncateFrom discards the entries at decrees >= d, which a primary's
// different version of decree d replaces. Committed entries are never
// replaced.
func (r *Replica) truncateFrom(d Decree) {
	for x := d; x <= r.log.last(); x++ {
		e, _ := r.log.at(x)
		r.inflight.remove(e.RequestID, x)
	}
	r.log.truncateFrom(d)
	if r.outstanding != nil {
		r.outstanding.truncFloor = min(r.outstanding.truncFloor, d)
	}
}

// discardUnhanded drops the uncommitted entries not yet handed out for
// writing. It runs when a replica stops following the primary (or being the
// primary) of its ballot, so that every entry a Ready hands out under ballot
// B was accepted under B (or is committed). The driver files entries under
// the ballot current when it takes the Ready, and a log that resolves
// conflicting records by that ballot (doc.go) then never keeps an entry this
// replica replaced. Nothing acknowledged is lost: acknowledgements cover
// durable entries only.
func (r *Replica) discardUnhanded() {
	if from := max(r.log.handed, r.committed) + 1; from <= r.log.last() {
		r.truncateFrom(from)
	}
}

// fail puts the replica in StatusError.
func (r *Replica) fail(err error) {
	if r.status == StatusPrimary {
		r.stepDown("")
	}
	r.status = StatusError
	r.err = err
}
