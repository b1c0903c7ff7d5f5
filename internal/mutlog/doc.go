// Package mutlog is the mutation log of one partition replica: Pegasus'
// private log (plog). It is the replica's write-ahead log and the source of
// truth for every write acknowledged since the storage last flushed, since
// the storage engine runs with its own WAL disabled.
//
// # Use
//
// A replica appends each mutation it prepares as a Record (decree, ballot,
// payload) with Append, AppendSync or AppendAsync, and acts on the prepare
// only once the append reports success. On restart it opens the log and
// Replays it from the storage's durable decree + 1. A primary serves
// learners with Read while the log still holds the decrees they miss
// (FirstDecree tells), and GC drops segments once the storage has flushed
// past them.
//
// # Files
//
// The log is a directory of segment files named log.<seq>.plog, seq being a
// 20-digit sequence number starting at 1, so that names sort in log order;
// Open requires the sequence to have no hole. Names follow the sequence
// rather than decrees because after a reconfiguration decrees in log order
// are not monotonic (a new primary re-prepares decrees the log already
// holds). A new segment is started when the active one reaches
// Options.SegmentSize, and on every Open. A LOCK file excludes a second
// process.
//
// All integers are little endian. A segment starts with a 32-byte header:
//
//	0   [8]byte  magic "PGMUTLOG"
//	8   u32      format version (1)
//	12  u32      reserved, zero
//	16  u64      seq, equal to the file name's
//	24  u32      reserved, zero
//	28  u32      CRC32C (Castagnoli) of bytes [0,28)
//
// followed by back-to-back record frames:
//
//	0   u32      length: bytes after the first 8, i.e. 24 + payload length
//	4   u32      CRC32C of bytes [0,4) followed by bytes [8, 8+length)
//	8   u64      batch offset: segment offset of the first frame of the
//	             group commit this frame was written in
//	16  i64      decree (>= 1)
//	24  i64      ballot (>= 0)
//	32  ...      payload
//
// The frames of one group commit are contiguous, so a frame's batch offset
// is either its predecessor's or its own offset.
//
// Zeros may follow the last frame of the last segment, and nowhere else. The
// writer keeps the active segment's file extended with zeros past the last
// frame, at least Options.PreallocateBytes (1 MiB by default) at a time and
// not past SegmentSize unless one record needs it, and writes each group
// commit over them. The file then does not grow with each group commit, so
// its fdatasync flushes data without journaling a new file size, which
// roughly halves the fsync's cost. Before the writer starts the next
// segment, and on Close, it truncates the active segment to its last frame:
// every other segment ends exactly at its last frame. A frame's length
// field is at least 24, so no frame starts inside zeros.
//
// # Durability and crash guarantees
//
// An append is reported successful only after its frames and every earlier
// frame have been written and fsynced (fdatasync). The writer writes and
// syncs one batch at a time; creates and syncs each segment's header and
// directory entry before writing records into it; writes zeros and fsyncs
// them with the new file size before writing a batch over them; and syncs a
// full segment, then truncates it to its last frame and fsyncs that, before
// starting the next. Hence at any instant at most one batch, at the end of
// the last segment, is not yet durable, only zeros follow it, and:
//
//   - Every acknowledged record survives a crash (process or machine) and is
//     replayed after Open, unless a later record superseded it.
//   - A record whose append failed or was never acknowledged may or may not
//     survive. What survives is always a prefix of the log as written.
//   - Open treats nothing but zeros after the last intact frame of the last
//     segment as its unused tail, not as a torn write: it truncates the
//     segment there and fsyncs it before starting a new segment, and
//     Recovery() reports the bytes cut as ZeroTailBytes, with no torn
//     segment. The zeros hold nothing, so the cut loses nothing even if a
//     crash undoes it. Checking them reads only the bytes after the last
//     frame, and the truncation is in place (vfs.Default; on a file system
//     whose files cannot be truncated, such as vfs.MemFS, the segment is
//     rewritten as below). Pages of a torn batch that never reached the
//     disk read as zeros too: if only zeros follow the frames before them,
//     the batch is cut the same way; it was never acknowledged.
//   - Open cuts off a torn batch at the end of the last segment: it keeps the
//     frames before the first damaged one and truncates the segment there,
//     zeros after it included, in place and durably (a crash before the
//     truncation is synced leaves the tail for the next Open to cut again;
//     on a file system that cannot truncate, via a temporary file and an
//     atomic rename). A last segment whose header is torn is removed; it
//     cannot hold records. Recovery() reports what was cut.
//   - Damage anywhere else is corruption and Open fails with ErrCorrupt
//     instead of dropping data: a damaged frame or header in any segment
//     but the last (zeros after its last frame included), a missing
//     segment, or a damaged frame in the last segment followed by an
//     intact frame of a later batch (that batch was written after the
//     damaged bytes had been synced, so they were acknowledged). Damage
//     confined to the last batch cannot be told from a torn write and is
//     cut off.
//   - A write or fsync error makes the log fail-stop (ErrLogFailed): after an
//     fsync error the kernel may have dropped dirty pages while reporting
//     later syncs as successful, so the only safe course is to stop
//     acknowledging and recover from what is on disk by reopening.
//   - With Options.NoSync none of this holds across a machine crash.
//
// # Supersede semantics
//
// After a reconfiguration a new primary re-prepares decree d under a higher
// ballot. A later record (d, b) supersedes every earlier record with decree
// >= d and a ballot below b; Replay and Read yield, for each decree, the
// latest surviving record (index.go states the exact rules). The log keeps an
// in-memory index of these effective records (32 bytes each) so that Replay
// and Read go straight to them. GC removes only a prefix of the log, and a
// record is only ever superseded by a later one, so GC cannot bring a
// superseded record back.
//
// # Concurrency
//
// All methods are safe for concurrent use. Appends from many goroutines are
// group-committed by one writer goroutine: one write and one fsync per batch
// of everything queued. Replay and Read work on a snapshot of the index taken
// when they start and keep the segments they need open even if GC removes
// them meanwhile.
package mutlog
