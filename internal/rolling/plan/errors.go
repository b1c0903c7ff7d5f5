package plan

import "errors"

// Sentinel errors. Build and Restore wrap them with %w and the details, so
// callers test with errors.Is.
var (
	// ErrInvalidSnapshot: the cluster snapshot is unusable (no meta server,
	// an empty or duplicate address, a negative count, an unknown meta level).
	ErrInvalidSnapshot = errors.New("plan: invalid cluster snapshot")
	// ErrNoMetaLeader: the snapshot names no meta leader, or more than one.
	ErrNoMetaLeader = errors.New("plan: snapshot has no single meta leader")
	// ErrNodeDown: a meta or replica server is not alive. A roll starts only
	// from a cluster whose servers are all up: taking a second node out of
	// a group that already lost one can leave a partition unwritable.
	ErrNodeDown = errors.New("plan: node not alive")
	// ErrUnknownNode: the node subset names a node the snapshot does not know.
	ErrUnknownNode = errors.New("plan: unknown node")
	// ErrEmptyScope: the options select nothing to restart.
	ErrEmptyScope = errors.New("plan: nothing to restart")
	// ErrInvalidOptions: an option is out of range.
	ErrInvalidOptions = errors.New("plan: invalid options")
	// ErrNoNewVersion: an upgrade was asked for without the new binary's
	// protocol version, so compatibility cannot be checked.
	ErrNoNewVersion = errors.New("plan: upgrade without the new binary's protocol version")
	// ErrIncompatibleProtocol: the new binary cannot run beside some running
	// server. The error returned by Build is an *IncompatibleError listing them.
	ErrIncompatibleProtocol = errors.New("plan: incompatible protocol version")
	// ErrWindowTooShort: the maintenance window (meta.lb.assign_delay_ms) is
	// shorter than the time a replica server may legitimately stay down under
	// this plan, so the meta server would start copying its replicas to other
	// nodes while the plan still waits for it.
	ErrWindowTooShort = errors.New("plan: maintenance window shorter than a node's downtime budget")
	// ErrAvailabilityLow: the collector already reports availability below
	// the pause threshold; the roll would pause before its first step.
	ErrAvailabilityLow = errors.New("plan: availability already below the pause threshold")

	// ErrTwoReplicaTable: an HA roll would drain a replica server holding a
	// partition of a table with two replicas; downgrade_node refuses to
	// leave a partition on one copy.
	ErrTwoReplicaTable = errors.New("plan: table with two replicas")

	// ErrSingleMeta: the roll would restart the only meta server. While
	// it is down nobody answers beacons, replica leases run out and every
	// request fails until it is back; Options.AllowSingleMeta accepts that.
	ErrSingleMeta = errors.New("plan: only one meta server")
	// ErrEmbeddedEtcd: a meta server to restart runs the cluster's etcd in
	// its own process; its restart takes the metadata store (and the
	// roll's own state) down.
	ErrEmbeddedEtcd = errors.New("plan: meta server runs the cluster's etcd")

	// ErrFinished: an operator command arrived after the roll ended.
	ErrFinished = errors.New("plan: roll already finished")
	// ErrCleaningUp: pause or resume arrived while the roll is undoing its
	// changes after a failure or an abort; cleanup is never held.
	ErrCleaningUp = errors.New("plan: roll is cleaning up")
	// ErrRollingBack: pause or resume arrived while the roll takes the
	// upgraded nodes back; a rollback is not held.
	ErrRollingBack = errors.New("plan: roll is rolling back")
	// ErrNoRollback: a rollback was asked of a roll that upgraded nothing
	// (a restart), or whose upgrade cannot be undone.
	ErrNoRollback = errors.New("plan: nothing to roll back")
	// ErrRollbackBlocked: the previous binary cannot read what the new one
	// has written (an on-disk format it does not know); a rollback would
	// fail on the first node, so it is refused before anything is touched.
	ErrRollbackBlocked = errors.New("plan: the previous binary cannot read the new on-disk formats")
	// ErrInvalidState: a stored state cannot be resumed (unknown format,
	// inconsistent step list or index).
	ErrInvalidState = errors.New("plan: invalid stored state")
)
