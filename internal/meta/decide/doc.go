// Package decide is the meta server's decision core: every choice about
// where partitions live, made by plain data structures with explicit
// inputs and outputs. It has no goroutines, no clock, no etcd and no
// network: time arrives as a time.Time argument, node state as beacons,
// and the outputs are proposals (configuration changes) and node events.
// The driver in internal/meta owns the ticker, etcd and gRPC.
//
// # Pieces
//
//   - FailureDetector (fd.go): beacons in, liveness and lease answers out.
//     A node is dead exactly when now - lastBeacon > fd_grace_seconds.
//   - Guardian (guardian.go): repairs partitions (Pegasus partition_guardian):
//     roles of dead nodes, missing primaries, missing and surplus secondaries,
//     with the restart window and add-secondary flow control.
//   - Balancer (balancer.go): evens primaries, then replicas, per table,
//     only at level lively and only while every partition is healthy.
//   - MigrateNode, DowngradeNode (drain.go): the graceful drain of one node
//     before a restart.
//   - Level, Knobs (levels.go, knobs.go): what the meta server may do, and
//     the runtime knobs of Pegasus' remote commands.
//   - Planner (planner.go): one round of all of the above.
//   - Apply, ApplyProposal (apply.go): the next configuration for a change,
//     with Pegasus' validity rules; Layout (layout.go): the configurations
//     indexed by node; HealthOf, TableHealths, NodeReplicaCounts (health.go):
//     `ls -d` and `nodes -d`.
//
// # Driver contract
//
// Beacons: call FailureDetector.Beacon for every beacon and answer with the
// returned BeaconAck. The replica server measures its lease from the time
// it sent the beacon, so its lease ends before the meta server's grace
// (lease < grace is checked at construction). A lone primary stops serving
// reads when it runs out; a primary with members holds its read lease from
// them and a newer primary waits until that lease provably ended (see
// internal/pacifica), so the grace only decides when roles move.
//
// Leadership: call SetLeader on every change, passing the nodes that hold
// roles in the stored configurations. For one grace period afterwards the
// planner only takes roles from nodes it knows are dead (none, in
// practice): a node a new leader has not heard from may still hold a lease
// from the old one.
//
// Rounds: every lb_interval_ms, build a Layout from the stored
// configurations (or keep one current with Layout.Set) and call
// Planner.Plan. Write each proposal as ApplyProposal(stored, proposal) in
// one etcd transaction conditioned on the stored ballot being
// proposal.Ballot; a failed condition means the configuration changed
// under the proposal and it is simply dropped, the next round decides
// again on fresh state. Then push the new configurations to the nodes
// involved. Proposals from replica servers (UpgradeToSecondary of a
// learner, DowngradeToInactive of a secondary that missed a prepare) take
// the same path after CheckAlive and a level check (Level.AllowsCure).
//
// Every output is deterministic for given inputs: candidates are compared
// by load, then by address, and results are sorted by partition.
//
// # Learners and ballots
//
// AddSecondary records the learner in the configuration (Learners) and,
// like every change written here, bumps the ballot. One rule then serves
// the driver (compare-and-swap on the ballot) and the replicas (a higher
// ballot wins), in-flight adds survive a meta failover, and flow control
// counts learners from the configurations. The cost is a ballot change the
// primary must adopt for every add: it re-prepares whatever it has not yet
// committed under the new ballot, usually nothing.
//
// # Restarts
//
// A node that comes back with a new start time, or that was declared dead,
// is fenced: it gets no lease and no new roles until the configurations no
// longer name it (the guardian removes it at once; a drained node holds
// nothing and is released at the next round). This keeps a quickly
// restarted primary, now an empty INACTIVE process, from staying primary
// on paper, and a node back from a network partition from serving a
// primary role that is being reassigned. The restart window then brings the
// node back as a learner that catches up from its own log. Pegasus'
// unstable-restart guard is kept: after MaxUnstableRestarts restarts in a
// row, each within StableRunning of the previous start, beacons are refused.
// A restart a follower saw more than a grace before it took over was the
// business of the leader of the time, and is not fenced again.
// A node that restarts while no meta server leads (between leaders) is not
// detected as restarted if the new leader never heard its old start time;
// the replica server side must then refuse to resume roles it cannot
// reconcile.
package decide
