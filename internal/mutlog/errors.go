package mutlog

import "errors"

// Errors returned by the log. Callers test them with errors.Is; most are
// wrapped with the segment, offset or sizes involved.
var (
	// ErrCorrupt: a record that was durable before the last crash fails its
	// checksum or framing. Recovery refuses to drop it silently: the replica
	// must stop and be rebuilt (learned) rather than serve a log with a hole.
	ErrCorrupt = errors.New("mutlog: corrupt log")

	// ErrLogFailed: a write or fsync of the log failed, so records may have
	// been lost after they were handed to the kernel. The log is fail-stop:
	// the failing append and every later one return this error wrapped
	// around the original cause; only reopening (which re-reads what is on
	// disk) makes the log usable again.
	ErrLogFailed = errors.New("mutlog: log failed")

	// ErrClosed: the log was closed before the append was queued.
	ErrClosed = errors.New("mutlog: log closed")

	// ErrRecordTooLarge: a record's payload exceeds Options.MaxRecordBytes.
	ErrRecordTooLarge = errors.New("mutlog: record too large")

	// ErrInvalidRecord: a record has a decree below 1 or a negative ballot.
	ErrInvalidRecord = errors.New("mutlog: invalid record")

	// ErrCompacted: the requested decree is below FirstDecree: it was
	// garbage collected, or this replica never logged it. A learner must be
	// served from a storage checkpoint instead.
	ErrCompacted = errors.New("mutlog: decree not in log")

	// ErrInvalidOptions: Options holds an out-of-range value.
	ErrInvalidOptions = errors.New("mutlog: invalid options")
)

// Reasons a frame fails to decode. decodeFrame's callers decide whether a
// failure is a torn tail or corruption and report it wrapped in ErrCorrupt
// or in RecoveryInfo; these are never returned on their own.
var (
	errFrameShort    = errors.New("frame extends past the end of the data")
	errFrameLength   = errors.New("frame length out of range")
	errFrameChecksum = errors.New("frame checksum mismatch")
	errFrameInvalid  = errors.New("frame decree or ballot out of range")
)
