// Package pegasustarget adapts a Pegasus table, reached through the public
// client, to bench.Target, and prepares the table a benchmark writes to.
//
// A benchmark key is a Pegasus hash key with an empty sort key, so keys
// spread over every partition the way the client places them
// (CRC64(hash key) % partition count).
//
// The client states, for every failed write, whether it certainly did not
// take effect or may have (the error then wraps client.ErrUnknownOutcome).
// The target passes that knowledge on: definitive failures wrap
// bench.ErrRejected, unknown outcomes do not, so the checkers neither
// excuse a lost write nor flag a write that was merely ambiguous.
package pegasustarget
