package pacifica

// MessageType says what a Message carries.
type MessageType uint8

const (
	// MsgPrepare goes from the primary to a secondary or learner. It carries
	// consecutive entries (possibly none) following (PrevBallot, PrevDecree)
	// and the primary's commit point. An empty prepare is the periodic group
	// check: it moves the commit point and proves the receiver is alive.
	MsgPrepare MessageType = iota + 1
	// MsgPrepareAck answers a prepare. Accepted: Decree is the highest decree
	// up to which the sender's log is durable and equal to the primary's.
	// Rejected (Reject set): the sender could not place the entries after
	// PrevDecree; Decree is a hint where to restart from.
	MsgPrepareAck
	// MsgLearnStart goes from the primary to a node the meta server asked to
	// add (Pegasus RPC_LEARN_ADD_LEARNER): the node becomes a potential
	// secondary and answers with a MsgLearnRequest.
	MsgLearnStart
	// MsgLearnRequest goes from a learner to the primary: Committed is the
	// learner's durable commit point, Decree its last prepared decree.
	MsgLearnRequest
	// MsgLearnLog is the primary's first answer to a learn request when it
	// can send entries (from its memory or its on-disk log). It is a prepare
	// in every other respect; the following entries, old and live alike,
	// reach the learner as ordinary prepares.
	MsgLearnLog
	// MsgLearnApp tells a learner the entries it needs are gone from the
	// primary's log: its driver must copy a storage checkpoint from the
	// primary (Ready.CheckpointRequests) and install it (InstallCheckpoint).
	MsgLearnApp
	// MsgStaleBallot answers any message from an older ballot. Ballot is the
	// answering replica's ballot, so the sender learns its view is stale.
	MsgStaleBallot
)

// fromPrimary reports whether messages of type t come from a primary.
func (t MessageType) fromPrimary() bool {
	return t == MsgPrepare || t == MsgLearnLog || t == MsgLearnStart || t == MsgLearnApp
}

func (t MessageType) String() string {
	switch t {
	case MsgPrepare:
		return "Prepare"
	case MsgPrepareAck:
		return "PrepareAck"
	case MsgLearnStart:
		return "LearnStart"
	case MsgLearnRequest:
		return "LearnRequest"
	case MsgLearnLog:
		return "LearnLog"
	case MsgLearnApp:
		return "LearnApp"
	case MsgStaleBallot:
		return "StaleBallot"
	default:
		return "Unknown"
	}
}

// Message is the unit of replica-to-replica traffic. The driver maps it to
// its wire format; fields a type does not use are zero.
type Message struct {
	Type   MessageType
	From   NodeID
	To     NodeID
	Ballot Ballot

	// Status is the role the primary assigns the receiver in Ballot
	// (secondary or potential secondary); set on prepares and learn logs so a
	// receiver that has not yet seen the configuration can adopt it.
	Status Status
	// PrevBallot and PrevDecree identify the entry preceding Entries. A
	// receiver accepts the entries only if its own log agrees up to there.
	// PrevBallot is zero when the primary no longer knows it; the receiver
	// then accepts only if PrevDecree is within what it knows is settled.
	PrevBallot Ballot
	PrevDecree Decree
	Entries    []Entry
	// Committed is the primary's commit point on prepares, and the learner's
	// durable commit point on learn requests.
	Committed Decree

	// Decree is the acknowledged decree (or restart hint) on acks and the
	// learner's last prepared decree on learn requests.
	Decree Decree
	Reject bool

	// LearnID identifies one learning session, so answers to an abandoned
	// session are ignored.
	LearnID uint64

	// Incarnation is the sender's Config.Incarnation: which copy of the
	// partition on the sending node speaks. Zero from a replica of a
	// version without incarnations.
	Incarnation uint64
	// SentAt is the primary's clock when it made a prepare, learn log,
	// learn start or learn app. On acknowledgements and learn requests it
	// echoes the newest SentAt of the primary's messages the sender
	// accepted at this ballot: the primary holds a read lease from the
	// sender until then + Lease (lease.go). Zero: nothing to echo.
	SentAt Time
	// Holds are, on acknowledgements and learn requests, the sender's holds
	// on primaries other than the recipient, and on prepares the primary's
	// holds while it has not cleared them (lease.go).
	Holds []Hold
	// HoldsCleared, on prepares: the primary decided that no primary of a
	// lower ballot can serve any more, so the receiver drops its holds
	// below Ballot.
	HoldsCleared bool
}

// Reply answers a Propose. Err is nil when the write committed at Decree.
// Duplicate is set when the answer comes from the in-flight request-id table
// rather than from an entry this Propose created: the write was proposed
// before under the same RequestID (possibly at another primary) and Decree
// is that entry's, which carries the id; the driver answers with its result
// (from the apply, or from the request's record in storage). An error reply
// leaves the outcome open: the entry may still commit under the next
// primary, where a retry with the same RequestID finds it.
type Reply struct {
	ID        RequestID
	Decree    Decree
	Duplicate bool
	Err       error
}

// ConfigType is the kind of configuration change a primary asks the meta
// server for (Pegasus config_type names).
type ConfigType uint8

const (
	// ConfigDowngradeToInactive removes Node from the configuration because
	// it failed to acknowledge prepares in time (CT_DOWNGRADE_TO_INACTIVE).
	ConfigDowngradeToInactive ConfigType = iota + 1
	// ConfigUpgradeToSecondary makes the caught-up learner Node a secondary
	// (CT_UPGRADE_TO_SECONDARY).
	ConfigUpgradeToSecondary
	// ConfigForceUpdateBallot asks for the same membership under Ballot+1
	// (CT_PRIMARY_FORCE_UPDATE_BALLOT). A restarted primary needs it because
	// it cannot know which entries it stamped with its old ballot before the
	// crash; a primary also uses it to withdraw an upgrade proposal for a
	// learner that stopped answering.
	ConfigForceUpdateBallot
)

func (t ConfigType) String() string {
	switch t {
	case ConfigDowngradeToInactive:
		return "DowngradeToInactive"
	case ConfigUpgradeToSecondary:
		return "UpgradeToSecondary"
	case ConfigForceUpdateBallot:
		return "ForceUpdateBallot"
	default:
		return "Unknown"
	}
}

// ConfigProposal is a request from the primary to the meta server. The meta
// server applies it only if Ballot is still the partition's ballot, so a
// late or repeated proposal is harmless.
type ConfigProposal struct {
	Type   ConfigType
	Node   NodeID
	Ballot Ballot
	// Incarnation is, for UpgradeToSecondary, the incarnation of Node's
	// copy that caught up: the meta server refuses the upgrade if the node
	// reports another copy by then.
	Incarnation uint64
}

// LogRead asks the primary's driver for the effective log entries From..To
// (inclusive) that are no longer in the core's memory, to catch up node For.
// The driver answers with Replica.LogReadResult.
type LogRead struct {
	For    NodeID
	Ballot Ballot
	From   Decree
	To     Decree
}

// CheckpointRequest asks a learner's driver to copy a storage checkpoint from
// the primary From and offer it to Replica.InstallCheckpoint.
type CheckpointRequest struct {
	From    NodeID
	Ballot  Ballot
	LearnID uint64
}
