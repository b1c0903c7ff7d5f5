// Package meta is the meta server: the table catalogue and partition
// configurations in etcd, leader election among meta servers, the failure
// detector over replica servers' beacons, and every reconfiguration. The
// decisions themselves are made by the pure core in internal/meta/decide;
// this package is the driver around it.
//
// # Pieces
//
//   - Server (server.go): gRPC Meta service, HTTP API, etcd client (or an
//     embedded etcd when etcd_endpoints is empty), election, and the
//     leader's planning loop every lb_interval_ms.
//   - elector (election.go): etcd concurrency.Election, one session at a
//     time, with a lease guard that ends a term as soon as its lease may
//     have expired unheard.
//   - Controller (controller.go and the files it names): the logic, with a
//     Store, a ReplicaAdmin and a Clock behind interfaces, so tests drive it
//     with MemStore, fake replica servers and a fake clock.
//   - Store (store.go): EtcdStore in production, MemStore in tests; the
//     layout of the keys is in codec.go.
//
// # Configuration changes
//
// Every change, whatever its source (a planning round, a replica's
// proposal, migrate_node), goes the same way (commit.go): computed under the
// controller's lock from the cache with decide.CheckAlive and
// decide.ApplyProposal, written outside the lock as one etcd transaction
// per partition that compares the record's revision with the one the
// change was computed from (the ballot can only have stayed the same if the
// revision did), then applied to the cache and pushed to the old and new
// members (push.go, in the background, newest configuration per partition
// and node). A change that loses the race is dropped and the cache takes
// what the store holds; the next round decides again. Every transaction
// is also fenced by the election key of the leader's term, so a deposed
// leader writes nothing.
//
// # Leadership
//
// One leader at a time, elected through etcd with a session TTL of
// election_ttl_seconds. A follower answers every Meta RPC with
// ERR_FORWARD_TO_OTHERS and Error.primary set to the leader's gRPC address.
// A meta server whose session ends, or whose lease guard fires, cancels the
// term's context first and steps down; graceful stop resigns first, so a
// follower takes over at once.
//
// A new leader loads everything and presumes every node alive for one
// grace period from the takeover (decide's SetLeader): nodes may hold
// leases from the old leader, and their beacons went elsewhere. Nothing is
// cured until then, so a meta failover alone changes no configuration.
// Replica proposals are accepted during that period (see Propose).
//
// # Beacons
//
// A replica server beacons every fd_beacon_interval_seconds with its
// protocol version, start time and one report per replica. The answer
// (BeaconResponse) reads:
//
//   - allowed=false: refused. ERR_VERSION_OUTDATED for a protocol version
//     this meta server cannot run with (same major, minor at most one
//     apart), ERR_REJECT for too many unstable restarts or a beacon from an
//     older process. Logged once per reason.
//   - allowed=true, ERR_FORWARD_TO_OTHERS: this meta server is a follower;
//     leader names the leader (empty during an election). No lease, no
//     configuration; beacon the leader. Followers ack rather than refuse so
//     that a replica server never takes a meta failover for a rejection.
//   - allowed=true, ERR_INACTIVE_STATE, lease_ms=0: the node is fenced (it
//     restarted, or was declared dead, while holding roles); it gets a
//     lease once the configurations no longer name it.
//   - allowed=true, no error: lease_ms = fd_lease_seconds*1000, counted by
//     the replica server from when it SENT the beacon, on its monotonic
//     clock. Only its lone primaries (no other member) serve reads on this
//     lease; a primary with members holds its lease from them, so neither
//     this server nor etcd is needed for data traffic while no
//     configuration changes. configs holds the configurations of
//     partitions it reports at an older ballot (unless it is only a dropped
//     node, which never takes a ballot it is no member of), in a state
//     contradicting its role at the same ballot (it went inactive), or not
//     at all although it holds a role (it must open them); tables
//     describes their tables. removals lists replicas it may discard, each
//     with the ballot the decision was made on (-1: the table was dropped):
//     the node holds no role in them and is not in last_drops (so it is no
//     recovery candidate). The replica server removes one only if it still
//     holds no role and saw no newer configuration for it; remove, the
//     same list without ballots, is kept for 1.0 replica servers.
//
// # Unavailable partitions
//
// A partition whose every member is gone is recovered only from a node that
// provably holds every committed write (decide.RecoveryCandidate): the last
// member, or one dropped with it. Until it is back the partition waits, and
// ListTables, QueryConfig, the HTTP API and the log say for whom ("waiting
// for <node>, last member at ballot B, decree D"). DDDDiagnose (the shell's
// ddd_diagnose) lists such partitions and is the only override: an operator
// names the node to go on from, and the decision is logged as an AUDIT
// warning (ddd.go).
//
// # Learners
//
// To add node X to a partition the meta server writes X into the
// configuration's learners (ballot+1, decide's AddSecondary) and pushes it.
// internal/pacifica's Configuration has no learners: the replica server
// hands the primary's core UpdateConfig(ballot, primary, secondaries) and
// then AddLearner(X, ballot) for each learner it is not already teaching;
// the learner's server opens the partition inactive and waits for the
// primary. When X has caught up, the primary proposes UpgradeToSecondary
// (ProposeConfig) and the meta server writes X as a secondary (ballot+1).
// A primary that gives up on a learner (silent through the learn timeout)
// proposes DowngradeToInactive for it until the meta server removes it from
// the configuration's learners; the replica server then tells its core
// (RemoveLearner), and the cure adds a learner again. A stalled upgrade is voided
// with CT_PRIMARY_FORCE_UPDATE_BALLOT (same membership, ballot+1).
//
// # Tables
//
// CreateTable places complete groups at ballot 1 (placement.go), writes
// them, pushes them and waits until every primary serves. DropTable is one
// transaction. The meta function level and the remote-command knobs are
// stored in etcd (knobs/<name>), so a new leader keeps them.
package meta
