// Package pacifica is the replication state machine of one partition
// replica: PacificA as Apache Pegasus runs it, as a pure, deterministic core.
// It does no I/O, starts no goroutines, reads no clock and draws no random
// numbers. A driver (the replica server) feeds it inputs and carries out the
// work it hands back in a Ready, in the style of etcd's raft.RawNode.
//
// # Roles and configurations
//
// A partition has one primary and some secondaries. The meta server owns the
// membership (Configuration) and bumps its Ballot on every change; it pushes
// configurations to the replicas (UpdateConfig) and receives the primary's
// proposals (Ready.ConfigProposals). A replica refuses anything from a ballot
// older than its own and answers messages from one with MsgStaleBallot, so the
// sender learns it is behind. Learners (StatusPotentialSecondary) are not
// members: the primary teaches them at the meta server's request (AddLearner)
// and then proposes them for secondary.
//
// A replica may also enter a newer ballot from a primary's message: a prepare
// names its sender as primary and the receiver's role, which is all a
// secondary needs. So a graceful handover does not wait for the meta server's
// pushes to reach every secondary.
//
// Only members and the learners of a ballot's primary enter that ballot. A
// configuration that does not list a replica (it was removed) only tells it
// the ballot exists: it stops acting for older ballots and takes no order
// from their primaries, but its own ballot does not move. Each replica also
// persists and reports the highest ballot it was a member of
// (HardState.MemberBallot): a member of ballot B holds every write committed
// at or before B, because every commit at B needed its acknowledgement and
// it joined B holding everything committed before. When every member of a
// partition is gone, the meta server picks the new primary by what members
// durably hold, never by a ballot a non-member was handed (issue 14's
// staggered outage: a node dropped early, pushed the current configuration,
// must not outrank the last member).
//
// # Write path
//
// Propose (primary only) assigns the next decree and appends the entry to the
// log; the entries ready together are sent to every secondary, and to every
// learner, in one MsgPrepare per node. A secondary acknowledges only once the
// driver has made the entries durable. The primary commits decree d once its
// own log holds d durably and every secondary acknowledged d (PacificA: all
// members, not a majority), hands the entry out for applying, and answers the
// client. The commit point reaches the secondaries on the next prepare or on
// the group check, an empty prepare sent every GroupCheckTicks to idle nodes.
//
// Proposals beyond Config.MaxInflight uncommitted decrees fail with
// ErrCapacityExceeded (Pegasus' bounded staleness). A prepare not acknowledged
// in PrepareRetryTicks is sent again; a member that makes no progress for
// PrepareTimeoutTicks is reported to the meta server (DowngradeToInactive),
// and the primary commits again under the configuration without it. Learners
// that stop answering are dropped.
//
// # The log and the prefix check
//
// (Ballot, Decree) identifies an entry: only the primary of a ballot creates
// entries with it, one per decree. A prepare carries the id of the entry
// before its first one (PrevBallot, PrevDecree), and a receiver accepts it
// only if its own log agrees there, or if that decree is within what it knows
// to be settled (its commit point, or what it already verified with this
// primary). Otherwise it refuses with a hint and the primary resends from
// there. Since logs only grow this way, equal ids imply equal prefixes, and
// one check covers the whole log (raft's log matching, here across ballots).
//
// An entry from the primary that differs from the one a replica holds at that
// decree replaces it and everything after it. Such entries are never
// committed ones: a commit needs every member (and every learner proposed for
// secondary), the next primary is always one of them, and so it holds every
// committed entry. A new primary prepares its uncommitted entries again, in
// prepares of its own ballot, but the entries keep their original ballot, so
// members that already hold them keep them: nothing that might have been
// acknowledged is ever rewritten.
//
// The driver's log must replay accordingly. Either of two rules works:
//
//   - Write order: a record for decree d discards every earlier record for a
//     decree >= d.
//   - Writer ballot: every record is filed under the replica's ballot when
//     the driver took the Ready (the last Ready.HardState.Ballot, persisted before the
//     entries), and a record (d, b) hides every earlier record at a decree
//     >= d filed under a lower ballot.
//
// They agree because an entry a replica replaces was always handed out
// under a lower ballot than its replacement: within one ballot a replica
// only holds entries of that ballot's primary, which never conflict, and on
// entering a new ballot it drops what it accepted before but had not handed
// out yet. Filing records under Entry.Ballot instead is wrong: a current
// primary's entry may carry an older ballot than the leftover it replaces.
// New checks that the replayed sequence is contiguous and that its entry
// ballots never decrease.
//
// # Reconfiguration
//
// UpdateConfig applies the meta server's decisions:
//
//   - Becoming primary of a new ballot (assign, promotion of a secondary,
//     handover target): the replica reconciles, preparing every entry above
//     its commit point again to all members. Until those are applied, reads
//     fail with ErrReconciling, since the previous primary may have
//     acknowledged them. Writes are accepted meanwhile and commit after them.
//   - Staying primary across a membership change: what is known about each
//     node carries over; prepares in flight under the old ballot are resent.
//   - Becoming secondary (including a primary handing over): the replica
//     follows the new primary. A former primary fails its pending writes with
//     a *NotPrimaryError naming the new primary; the client retries there
//     with the same RequestID (see exactly-once below).
//   - Leaving the configuration: the replica goes inactive, failing pending
//     writes the same way.
//
// A primary that sees a newer ballot anywhere (a MsgStaleBallot answer)
// stops accepting reads and writes at once, and waits for the configuration.
//
// A primary accepts writes only once its ballot is durable (Ready.HardState
// carried out). A restarted replica therefore knows every ballot it may have
// created entries in, and never becomes primary again in one of them: entries
// it created there before the crash may survive on secondaries only, and new
// ones with the same ids would contradict them. It asks the meta server for
// the next ballot instead (ConfigForceUpdateBallot, Pegasus
// CT_PRIMARY_FORCE_UPDATE_BALLOT).
//
// # Learning
//
// See learn.go for the message flow. The primary streams a learner its log
// from the learner's commit point: from memory (the cache, CacheEntries and
// CacheBytes), from the on-disk log when memory no longer has it (Ready.LogReads
// answered with LogReadResult, Pegasus LT_LOG), or, if the log no longer has it
// either, by having the learner copy a storage checkpoint (MsgLearnApp,
// Ready.CheckpointRequests, InstallCheckpoint; Pegasus LT_APP). New writes
// reach the learner as they are proposed, so it ends in sync while writes
// continue. When it holds everything committed the primary proposes
// ConfigUpgradeToSecondary; from that moment the learner's acknowledgements
// gate commits like a secondary's, because the meta server may apply the
// proposal at any time and the new secondary must already hold every
// committed write. A proposal the learner then cannot honour (it stops
// answering) is voided by asking for a new ballot.
//
// # Exactly-once writes
//
// A write carries a RequestID that stays the same across the client's
// retries. Knowing which requests a replica executed is split at its applied
// decree, with no gap:
//
//   - In flight (logged above the applied decree): the core's table. Every
//     replica records the id of each entry it logs, so a secondary promoted
//     to primary recognises retries of its predecessor's unfinished writes.
//     A Propose whose id is in flight creates no entry; it is answered
//     (Reply.Duplicate, original decree) when the original commits.
//   - Applied: storage. When the driver applies an entry with an id, it
//     writes the request's record (its decree and the results the client
//     must get back) in the same atomic batch as the mutation and the applied
//     decree, and it looks a request up there before calling Propose. The
//     record is data: it survives restarts with the store, travels in
//     checkpoints, and a promoted secondary has it from its own applies.
//     Only a writable primary (Writable) answers from it: a secondary may
//     have applied a write the primary has not applied yet, and a "done"
//     from it could precede a read at the primary that misses the write.
//
// The core forgets an id in Advance, once the Ready that handed its entry
// out was carried out (step 4 applied it, and its record, to storage); until
// then both know it. A Reply.Duplicate therefore always finds the original's
// record in storage.
//
// How long storage keeps records is the driver's policy (the replica server
// keeps them for a configured time, at least the longest window a client
// retries one write in); a retry arriving after its record was collected is
// executed again.
//
// # Reads and leases
//
// Reads are served by the primary alone, from its storage, while it holds a
// lease. The lease comes from its members, as in PacificA, not from the meta
// server: then no read needs the meta server or its store while no
// configuration has to change (lease.go has the mechanics).
//
//   - Lease. Primary P of ballot b may serve a read at time t only if every
//     node whose acknowledgement its commits need (its secondaries, and the
//     learners whose upgrade it proposed) acknowledged, at ballot b, a
//     message P sent at time s with t < s + Lease, both read on P's clock.
//     A lone primary has no such node and needs the replica server's lease
//     from the meta server (ReadState.NeedMetaLease), as does a primary with
//     a member of a version that grants no leases.
//   - Promise. A replica that accepts a message from P at ballot b promises
//     not to help another primary commit until its receive time + Grace, on
//     its own clock (a hold on (P, b)). Once it entered a newer ballot it
//     takes nothing from P at b any more.
//   - Wait. A primary Q of a newer ballot commits nothing and serves no read
//     until every hold on a different primary of a lower ballot is over:
//     expired, or void because that primary was seen at a higher ballot (it
//     acknowledged or sent anything at one). Q learns its members' holds
//     from their acknowledgements at its ballot (as durations, so no two
//     clocks are compared: the receiver adds them to its own receive time,
//     which is conservative), decides once it heard every member, and until
//     then passes its holds on to its followers in its prepares.
//
// Why no stale read: a read by P at t had an acknowledgement from every
// such node n of a message P sent at s > t - Lease; n received it at r >= s
// and promised until r + Grace > s + Lease > t. A primary Q of a newer
// ballot commits only once some member that promised P has stopped renewing
// and its promise is over, or P was seen at a newer ballot, which it only
// enters after it stopped serving at the old one. Such a member always
// exists in Q's configuration: Q itself, or a member Q heard at its ballot,
// was a member (or upgrading learner) of P's configuration, because the
// meta server only promotes a secondary of the previous configuration (or,
// when every member is gone, the last one) and P's lease needs every one of
// them. And since Q waits for every member's holds, a write Q commits
// follows every read P served, in real time, whatever the clocks read.
// Grace > Lease absorbs clocks running at slightly different rates.
//
// What this buys:
//
//   - The handover of an isolated primary (issue 14, hole 1): a
//     configuration that excludes a replica which may still hold a lease
//     commits nothing until that lease provably ended, or the replica
//     acknowledged its demotion.
//   - A graceful handover stays fast: the old primary is a member of the new
//     configuration and acknowledges the new ballot at once, which voids
//     every hold on it in one round trip.
//   - Holds are transitive. If B, waiting on A's lease, hands over to C
//     before the wait is over, B's acknowledgement and B's prepares carry
//     the hold on A, so C waits too, even if it never followed A.
//   - A crashed primary that comes back needs no waiting out: the
//     restarted replica is primary at no ballot it had entered, and the
//     process before entered none above those (a ballot is persisted
//     before any message of it goes out). Its server reports that bound
//     (MinPrimaryBallot), the meta server passes it on with the
//     configuration (Configuration.PrimaryBounds), and holds below it are
//     void. A primary that is only silent may still be serving: then the
//     new primary waits.
//   - A restart forgets every time. A replica persists the primary of its
//     ballot and the other primaries it holds (HardState), and a restart
//     holds each until restart + Grace. Removals are not persisted at once:
//     a stale entry only makes a restart wait longer.
//   - Once a new primary decided no old primary can serve any more, holds it
//     learns later are stale (that primary's lease needed a member that
//     stopped renewing) and it tells its followers to drop theirs
//     (Message.HoldsCleared).
//
// A primary that sees a newer ballot anywhere stops serving and accepting
// writes at once; a new primary also refuses reads until it applied
// everything it had prepared when promoted (ErrReconciling).
//
// # Incarnations
//
// Config.Incarnation names the replica's copy of the partition, drawn when
// its directory is created. Every message carries the sender's, so a primary
// forgets what it knew about a node as soon as another copy answers (the
// node's replica was deleted and recreated, empty): it resends everything to
// a secondary and starts a learner over, voiding an upgrade it proposed for
// the old copy; the proposal names the copy, so the meta server refuses it
// if the node reports another by then. A secondary that entered its ballot
// from a primary's message counts itself a member (MemberBallot) only once
// it acknowledged holding what that primary said is committed.

// # The Ready contract
//
// HasReady reports pending work; Ready hands it out; Advance tells the core it
// was carried out. Between Ready and Advance the driver may keep calling Step,
// Propose, Tick and the other inputs (their output goes into the next Ready),
// but not Ready again. For each Ready, in order:
//
//  1. persist HardState if not zero, before sending any message;
//  2. send Messages; they never depend on the Entries of the same Ready (an
//     acknowledgement is only produced after the entries it covers were
//     reported durable), so they may be sent while Entries are written;
//  3. append Entries to the log and make them durable;
//  4. apply Committed in order (they are durable in the local log);
//  5. deliver Replies, after Committed is applied;
//  6. hand ConfigProposals to the meta server, start LogReads and
//     CheckpointRequests (their results come back later through
//     LogReadResult and InstallCheckpoint);
//  7. call Advance.
//
// After a crash, the driver rebuilds the replica with New from the persisted
// HardState, its storage's applied decree and the replayed log
// (DurableState), and its clock.
// Entries up to the highest LastCommitted they carry are committed, the rest
// prepared. The replica starts inactive and waits for the meta server.
//
// # Time
//
// Two clocks, both inputs. Tick counts logical ticks for the liveness
// timers (retransmission, failure detection of members, learner timeouts,
// proposal retries); 100 ms per tick is the intended granularity, and a
// tick a paused driver misses only delays a retry or a timeout. Leases and
// promises, which safety rests on, use Time instead (time.go): a reading of
// the driver's monotonic clock, never wall time. Step, Tick and New take
// the current Time, so every message is stamped and every promise measured
// from a time no earlier than the message's arrival; ReadState.Check takes
// the time of the read itself, so a lease never lasts longer because the
// driver fell behind. Everything else acts at the last Time fed, which can
// only make the replica more careful: a promise or a hold lasts longer, a
// lease (from a send stamp) ends sooner.
package pacifica
