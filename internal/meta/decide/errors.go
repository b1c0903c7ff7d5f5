package decide

import "errors"

// Sentinel errors of the decision core. Callers test them with errors.Is;
// every error returned by this package wraps one of them.
var (
	// ErrLeaseNotBelowGrace: a replica server's lease must run out before the
	// meta server may declare it dead, or two primaries could serve at once.
	ErrLeaseNotBelowGrace = errors.New("decide: fd_lease_seconds must be below fd_grace_seconds")
	// ErrBeaconNotBelowLease: beacons must come more often than the lease
	// runs, or every lease expires between two beacons.
	ErrBeaconNotBelowLease = errors.New("decide: fd_beacon_interval_seconds must be below fd_lease_seconds")
	// ErrInvalidFDConfig: a failure detector timing is not positive.
	ErrInvalidFDConfig = errors.New("decide: invalid failure detector config")

	// ErrProtocolIncompatible: the beacon's protocol version may not join the
	// cluster (different major, or minor more than one apart).
	ErrProtocolIncompatible = errors.New("decide: protocol version incompatible")
	// ErrUnstableNode: the node restarted too often in a row; its beacons are
	// refused until it stays up for the stable running time.
	ErrUnstableNode = errors.New("decide: node restarts too often")
	// ErrStaleIncarnation: a beacon from a process older than the one the
	// meta server already heard from, delayed in the network.
	ErrStaleIncarnation = errors.New("decide: beacon from a previous process")
	// ErrNodeFenced: the node died or restarted while it still held roles;
	// it gets no lease until the meta server has taken those roles away.
	ErrNodeFenced = errors.New("decide: node fenced until its old roles are removed")
	// ErrNotLeader: this meta server is not the leader and grants no lease.
	ErrNotLeader = errors.New("decide: not the leader meta server")

	// ErrInvalidAction: an action is not valid against the configuration it
	// is applied to. The more specific errors below are wrapped with it.
	ErrInvalidAction = errors.New("decide: invalid action")
	// ErrHasPrimary: the action needs a partition without primary.
	ErrHasPrimary = errors.New("decide: partition has a primary")
	// ErrNoPrimary: the action needs a partition with a primary.
	ErrNoPrimary = errors.New("decide: partition has no primary")
	// ErrTargetMismatch: the action's target is not the node the action type
	// requires (the primary, or the node itself).
	ErrTargetMismatch = errors.New("decide: wrong action target")
	// ErrNotSecondary: the node must be a secondary of the partition.
	ErrNotSecondary = errors.New("decide: node is not a secondary")
	// ErrNotLearner: the node must be a learner of the partition.
	ErrNotLearner = errors.New("decide: node is not a learner")
	// ErrNotMember: the node holds no role in the partition.
	ErrNotMember = errors.New("decide: node is not in the partition")
	// ErrAlreadyMember: the node already holds a role in the partition.
	ErrAlreadyMember = errors.New("decide: node already in the partition")
	// ErrIsPrimary: the action may not be applied to the primary.
	ErrIsPrimary = errors.New("decide: node is the primary")
	// ErrGroupFull: the partition already has max_replica_count+1 replicas
	// and learners; adding more would only create copies to throw away.
	ErrGroupFull = errors.New("decide: partition has no room for another replica")
	// ErrUnknownConfigType: the action type is not one the meta server writes.
	ErrUnknownConfigType = errors.New("decide: unknown config type")
	// ErrStaleProposal: the proposal was computed against an older ballot.
	ErrStaleProposal = errors.New("decide: proposal ballot is stale")
	// ErrWrongPartition: a proposal applied to another partition's config.
	ErrWrongPartition = errors.New("decide: proposal is for another partition")
	// ErrEmptyProposal: a proposal without actions.
	ErrEmptyProposal = errors.New("decide: proposal has no actions")
	// ErrNodeNotAlive: the action gives a role to (or is executed by) a node
	// the failure detector does not consider alive.
	ErrNodeNotAlive = errors.New("decide: node not alive")
	// ErrUnexpectedIncarnation: the node reports another copy of the
	// partition than the one the action was decided for (its replica was
	// deleted and created again).
	ErrUnexpectedIncarnation = errors.New("decide: node reports another copy of the replica")
	// ErrNoSafePrimary: a forced primary assignment (ddd_diagnose) names a
	// node that does not report a usable copy of the partition.
	ErrNoSafePrimary = errors.New("decide: node holds no usable copy of the partition")

	// ErrInvalidConfig: a partition configuration breaks an invariant
	// (duplicate or empty node, a node in two roles, too many last_drops).
	ErrInvalidConfig = errors.New("decide: invalid partition configuration")
	// ErrDuplicatePartition: a layout received two configs of one partition.
	ErrDuplicatePartition = errors.New("decide: duplicate partition")
	// ErrUnknownPartition: the partition is not in the layout.
	ErrUnknownPartition = errors.New("decide: unknown partition")

	// ErrDrainRefused: migrate_node or downgrade_node refused one or more
	// partitions. The error is a *DrainError listing each one.
	ErrDrainRefused = errors.New("decide: drain refused")
	// ErrNoHandoverTarget: no alive secondary on another node can take over
	// the primary role.
	ErrNoHandoverTarget = errors.New("decide: no alive secondary to hand the primary to")
	// ErrTooFewMembers: removing the node would leave the partition with
	// fewer than two members (one copy of the data).
	ErrTooFewMembers = errors.New("decide: too few members left")

	// ErrUnknownKnob: no knob of that name.
	ErrUnknownKnob = errors.New("decide: unknown knob")
	// ErrInvalidKnobValue: the value is out of range or malformed.
	ErrInvalidKnobValue = errors.New("decide: invalid knob value")
	// ErrUnknownLevel: not a meta function level name.
	ErrUnknownLevel = errors.New("decide: unknown meta level")
)
