// Package storage is the Pebble-backed store of one partition replica.
//
// # Data model
//
// The on-disk layout is Pegasus' own, so that a compatibility layer can hand
// Pegasus clients and tools the bytes they expect:
//
//	record key   = [hash key length: u16 big-endian][hash key][sort key]
//	record value = [expire_ts: u32 big-endian][user value]      (value schema v0)
//
// and the store's own metadata, under the prefix 0xFF 0xFF that no record
// key can start with:
//
//	0xFF 0xFF "applied_state"                  applied decree and apply clock
//	0xFF 0xFF "req/" [client id u64][seq u64]  request records (requests.go)
//
// expire_ts counts seconds since 2016-01-01T00:00:00Z (Unix 1451606400); 0
// means the record never expires. Because the hash key is prefixed by its
// length, every sort key of one hash key shares the prefix
// [len][hash key]: they are contiguous in Pebble's byte order and sorted by
// sort key, so "all sort keys of a hash key" and "sort keys in [a, b)" are plain
// iterator bounds.
//
// A hash key is at most 65534 bytes, so no record key starts with 0xFFFF. The
// store keeps its own metadata under that prefix, where it can never collide
// with a record and sorts after every record.
//
// # Writes
//
// Writes arrive as [WriteOp] lists carried by replicated mutations. Every
// replica applies the same list at the same decree with [Store.Apply], and
// must end in the same state with the same per-op results. Hence:
//
//   - Apply writes the ops and the applied decree in one Pebble batch: the
//     store never holds an op without knowing its decree, nor the reverse.
//   - The clock used for TTL arithmetic and expiry checks is an input (the
//     primary's time, carried in the mutation), never the local clock. The
//     store keeps that clock monotonic across primaries: the apply clock is the
//     largest time any applied mutation carried, and it is persisted with the
//     decree.
//   - An op that fails (incr on a non-integer, a check on a non-integer) fails
//     identically everywhere, writes nothing, and does not stop the other ops of
//     the list or the decree from advancing.
//   - Size limits that depend on configuration are enforced before a mutation
//     is logged ([Store.Validate]). Apply re-checks only the rules that hold
//     regardless of configuration (hash key size, TTL sign, non-empty
//     multi-ops, known check types), so that replicas configured with
//     different limits never diverge on a logged mutation.
//   - Incr's TTL follows Pegasus: 0 keeps the record's expiry, a positive
//     value resets it, a negative one clears it.
//
// # Request records
//
// A mutation that carries a client's RequestID also leaves a request record,
// written by Apply in the same batch as the ops and the applied decree: the
// decree, the apply time and the ops' results (requests.go). A retry of an
// applied write is answered from it ([Store.AppliedRequest]) with the
// original outcome, on any replica, after a restart or a checkpoint install.
// Records are collected by [Store.DropExpiredRequests] once the apply clock
// has passed them by the configured retention.
//
// # Durability
//
// The mutation log of the replication layer is the source of truth, so
// Pebble's own WAL is off by default: an applied batch lives in a memtable
// until a flush writes it to sstables. After a crash the store therefore holds
// exactly the state of its last flush, a prefix of the applied decrees, and
// [Store.LastAppliedDecree] says which; the replica replays its log from there.
// [Store.Flush] makes everything applied so far durable and reports the decree.
//
// # Expiry
//
// Expired records are invisible to reads. Pebble has no compaction filter, so
// [Store.DropExpired] sweeps the keyspace in bounded steps and deletes records
// that expired by the apply clock. See sweep.go for why this local, unlogged
// deletion cannot make replicas disagree.
//
// # Checkpoints
//
// [Store.Checkpoint] writes a consistent copy of the store (sstables hard
// linked where possible) holding a known decree; a learner installs such a
// copy with [InstallCheckpoint] or [OpenFromCheckpoint], which swap directories
// by renames and recover from a crash at any step.
package storage
