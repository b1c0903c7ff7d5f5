package rpc

import "time"

// The contract between clients and replica servers that makes a retried
// write exactly-once (incr and check_and_set return the original result
// instead of applying twice):
//
//   - A client retries one write, with the same RequestID, for at most
//     MaxWriteRetryWindow from its first attempt; after that it reports the
//     outcome as unknown and stops. A replica server refuses to start a
//     write later than that after it arrived (its deadline is capped).
//   - A replica server keeps the record of every applied request for its
//     write_dedup_retention_seconds, which must be at least
//     MinWriteDedupRetention: the retry window plus ClockSkewAllowance,
//     because records are timed by the apply clock, the largest timestamp any
//     primary put on an applied mutation, and primaries' clocks differ.
//
// So every retry a client can still send finds the record of its original.
const (
	MaxWriteRetryWindow    = 2 * time.Minute
	ClockSkewAllowance     = time.Minute
	MinWriteDedupRetention = MaxWriteRetryWindow + ClockSkewAllowance
)
