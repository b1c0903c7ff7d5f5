package rolling

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with %w and the details, so callers
// test with errors.Is.
var (
	// ErrLocked: another orchestrator holds the cluster's rolling lock.
	// The error is a *LockedError naming the holder.
	ErrLocked = errors.New("rolling: another orchestrator is running")
	// ErrLockLost: the orchestrator's etcd lease expired or was revoked
	// while it ran, so another orchestrator may have taken over; it stops
	// without writing anything more.
	ErrLockLost = errors.New("rolling: lost the rolling lock")
	// ErrNoRoll: no roll is stored for the cluster.
	ErrNoRoll = errors.New("rolling: no roll stored")
	// ErrUnfinishedRoll: a new roll was asked for while a stored one has not
	// ended; resume or abort it first.
	ErrUnfinishedRoll = errors.New("rolling: an unfinished roll exists")
	// ErrRollEnded: resume or abort of a roll that already ended.
	ErrRollEnded = errors.New("rolling: roll already ended")
	// ErrNotRunning: pause or an operator request needs a running
	// orchestrator and none holds the lock.
	ErrNotRunning = errors.New("rolling: no orchestrator is running")
	// ErrNotAcknowledged: the running orchestrator did not pick up an
	// operator request in time.
	ErrNotAcknowledged = errors.New("rolling: request not acknowledged")
	// ErrInterrupted: the orchestrator was told to stop (its context was
	// canceled) before the roll ended; the stored state resumes it.
	ErrInterrupted = errors.New("rolling: orchestrator interrupted")
	// ErrRollFailed and ErrRollAborted: the roll ended without restarting
	// every node; the report says where and why.
	ErrRollFailed  = errors.New("rolling: roll failed")
	ErrRollAborted = errors.New("rolling: roll aborted")
	// ErrRolledBack: the roll took the nodes it had upgraded back to the
	// previous version (on an SLO halt with --auto-rollback, or asked).
	ErrRolledBack = errors.New("rolling: roll rolled back")

	// ErrInvalidControl: a node control specification or command template
	// is unusable (unknown kind, unknown placeholder, missing template).
	ErrInvalidControl = errors.New("rolling: invalid node control")
	// ErrUnknownNode: node control does not know the node.
	ErrUnknownNode = errors.New("rolling: node unknown to node control")
	// ErrCommandFailed: an exec template exited with an error.
	ErrCommandFailed = errors.New("rolling: command failed")
	// ErrStillRunning: a stopped process was still reported running when
	// the stop's time ran out.
	ErrStillRunning = errors.New("rolling: process still running")
	// ErrNotStarted: a started process was not reported running in time.
	ErrNotStarted = errors.New("rolling: process not running")

	// ErrServer: a meta or replica server answered with a Pegasus error
	// code; the message carries it.
	ErrServer = errors.New("rolling: server error")
	// ErrBinaryVersion: the new binary's protocol version could not be read
	// from `<binary> version`.
	ErrBinaryVersion = errors.New("rolling: cannot read the new binary's protocol version")
	// ErrCollector: the collector answered badly.
	ErrCollector = errors.New("rolling: collector error")
	// ErrNoPrevious: a rollback must install the previous binary or
	// configuration of a node, and nobody said what it was.
	ErrNoPrevious = errors.New("rolling: previous version unknown")
	// ErrNoCluster: the command could not reach the cluster or the etcd
	// keeping its roll; the message says what to give.
	ErrNoCluster = errors.New("rolling: cannot reach the cluster")
	// ErrRefused: a new roll is refused before anything is touched; the
	// message says why.
	ErrRefused = errors.New("rolling-update: refusing to start")
	// ErrNotConfirmed: the operator did not confirm the plan.
	ErrNotConfirmed = errors.New("rolling-update: not confirmed")
	// ErrInvalidRecord: the stored record cannot be decoded.
	ErrInvalidRecord = errors.New("rolling: invalid stored record")
)

// LockedError is returned when another orchestrator holds the lock.
// errors.Is(err, ErrLocked) holds.
type LockedError struct {
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrLocked, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }
