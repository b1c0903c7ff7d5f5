// Package replica is the replica server: it hosts partition replicas, each a
// thin driver around the pure PacificA core (internal/pacifica) with its own
// mutation log (internal/mutlog) and Pebble store (internal/storage), and
// connects them to clients, to the other replica servers and to the meta
// servers.
//
// # Goroutines
//
// One goroutine per partition replica runs everything that touches its core
// (partition.go): the core is not safe for concurrent use, and one goroutine
// per replica makes every replica's inputs naturally ordered without locks.
// An idle replica costs a goroutine parked between ticks (a few KiB), so a
// server with thousands of them pays little for the ones without traffic; a
// worker pool would have to re-create that per-replica ordering.
//
// The goroutine sleeps until its inbox (inbox.go) is signalled, then takes
// every queued input at once (client writes, peer messages, configurations,
// log-append completions, log reads, fetched checkpoints), feeds them to the
// core, applies pending ticks, and carries out the core's Ready. Taking
// everything at once is what batches under load: all writes that arrived
// while the previous batch was being fsynced land in one Ready, one log
// append, one prepare per secondary.
//
// Around the replicas, per server: one ticker ticks every core (100 ms); a
// flusher makes stores durable and trims logs; a sweeper deletes expired
// records a few at a time and request records past their retention a bucket
// at a time; a beacon loop reports to the meta leader (beacon.go); a
// proposal queue carries the cores' configuration proposals to it
// (meta.go); one sender goroutine per destination server batches the
// messages of all partitions into one stream (transport.go); and each client
// stream has one writer goroutine (data.go).
//
// # Carrying out a Ready
//
// In the core's contract order (carryOut in partition.go): a new ballot is
// written to the replica's info file and synced; messages are queued to the
// transport; entries are handed to the log's group commit (AppendAsync) and
// the core gets no further Ready until the append completes, when Advance is
// called; meanwhile committed entries (already durable, the core hands out
// only those) are applied to the store in decree order, and the waiting
// client writes are answered with their results. Proposals, log reads for
// learners and checkpoint copies run asynchronously and report back through
// the inbox. While an append is in flight the goroutine keeps taking inputs,
// so the next batch forms during the fsync.
//
// Records in the log carry the replica's persisted ballot rather than the
// entry's (logentry.go), which makes the log's supersede rule equal the core's
// replay rule.
//
// # Exactly-once writes
//
// Each committed entry is applied with its RequestID, and the store writes
// the request's record (decree and results) in the same batch
// (storage/requests.go). A retried write (the client numbers its sends; any
// but the first) is first looked up there, on a writable primary: if its
// original was applied, the record answers it with the original result and
// nothing is proposed. The core's in-flight table covers the rest
// (pacifica/dedup.go). Records survive restarts, travel in checkpoints and
// are on every replica, so a restarted, re-learned or promoted primary
// answers as the original one would. The sweeper collects records after
// write_dedup_retention_seconds of apply-clock time, longer than any client
// retries (rpc.MaxWriteRetryWindow).
//
// # Reads, leases and safety
//
// Reads go straight to the store, on the client stream's goroutines, when
// the partition's published view (replicaView) holds the core's ReadState
// and that state, checked with the time of the read itself, allows it: a
// primary with members serves on the lease they grant it, a lone primary on
// the server's lease from the meta server (beacon.go). Leases, promises and
// every timeout run on the monotonic clock (Server.mono); the wall clock
// (Options.Clock) only stamps mutations for TTLs and is shown to operators.
// The core is fed the monotonic time with every message and tick, after the
// message arrived, so a promise never counts from before its arrival.
//
// The view is republished after every batch of inputs and before any
// message of the following Ready is sent. A primary deposed by a new
// configuration therefore stops serving reads before its acknowledgement of
// the new ballot (which releases the new primary's wait for its lease) can
// leave. Writes need no lease: they commit only with every member's
// acknowledgement at the primary's ballot.
//
// A replica's copy has an incarnation, drawn with its directory and kept in
// its info file; every peer message carries it (see internal/pacifica).
// Removals ordered by the meta server are checked by the replica's own
// goroutine (configs.go), and a configuration never creates an empty copy
// where the old one held data.
//
// # Restart
//
// New opens every replica found in data_dir: the store's applied decree is
// its durable decree (its WAL is off), the log is replayed from the next
// decree, and the core is rebuilt from both plus the persisted ballot. Only
// what lies past the durable decree is replayed; a replica closed by
// replica.kill_partition or a graceful shutdown flushed first and replays
// nothing. Replicas start inactive; the meta server's configurations,
// through beacon answers or pushes, give them their roles. A configuration
// naming this server for a partition it does not hold opens a new replica.
//
// # Learning
//
// The core decides how a learner catches up; the driver serves its requests:
// old log entries from the on-disk log (partition.readLog), and storage
// checkpoints streamed by ReplicaPeer.FetchCheckpoint and installed by
// swapping directories (checkpoint.go).
//
// # Files
//
// See layout.go for the directory layout.
package replica
