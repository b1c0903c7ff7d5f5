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
//     the driver took the Ready (the last Ready.Ballot, persisted before the
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
// A primary accepts writes only once its ballot is durable (Ready.Ballot
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
// # Reads
//
// CanServeRead is nil only on a primary that knows of no newer ballot and has
// applied everything it had prepared when promoted. The driver must also hold
// a valid lease from the meta server's failure detector, and refuse reads when
// it does not: a primary cut off from the meta server keeps believing it is
// primary until it hears otherwise, while the meta server may already have
// promoted another replica once the grace period (longer than the lease) is
// over. Leases are per server, hence outside this per-partition core.
//
// # The Ready contract
//
// HasReady reports pending work; Ready hands it out; Advance tells the core it
// was carried out. Between Ready and Advance the driver may keep calling Step,
// Propose, Tick and the other inputs (their output goes into the next Ready),
// but not Ready again. For each Ready, in order:
//
//  1. persist Ballot if non-zero, before sending any message;
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
// ballot, its storage's applied decree and the replayed log (DurableState).
// Entries up to the highest LastCommitted they carry are committed, the rest
// prepared. The replica starts inactive and waits for the meta server.
//
// # Time
//
// Tick advances a logical clock; all timeouts count ticks (Config). The driver
// owns the real ticker; 100 ms per tick is the intended granularity.
package pacifica
