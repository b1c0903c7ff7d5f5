// Package client is the Go client of a Pegasus cluster: a key-value store
// whose records are addressed by a hash key, which places the record in a
// partition, and a sort key, which orders the records of one hash key.
//
// # Connecting
//
// A Client is built once from the addresses of the meta servers and shared
// by the whole program; a Table is opened once per table name:
//
//	c, err := client.New(ctx, client.Config{MetaServers: []string{"10.0.0.1:34601", "10.0.0.2:34601"}})
//	...
//	defer c.Close()
//	users, err := c.Open(ctx, "users")
//	...
//	err = users.Set(ctx, []byte("user:42"), []byte("name"), []byte("Ada"), 0)
//	name, found, err := users.Get(ctx, []byte("user:42"), []byte("name"))
//
// Every operation takes a context. Its deadline bounds the operation with
// all its retries; a context without a deadline gets Config.OperationTimeout
// (5 s by default). A write is retried for at most MaxWriteRetryWindow
// (2 minutes) however far its deadline lies (see exactly-once retries).
//
// # Routing and failover
//
// The client asks a meta server for each table's partition configuration
// and caches it. A record lives in partition CRC64(hash key) % partition
// count (CRC64 of the sort key when the hash key is empty; see
// PartitionHash), and every operation, read or write, is served by that
// partition's primary replica: reads are linearizable.
//
// All operations to one replica server share a single gRPC stream with many
// requests in flight. When the primary moves (a node is restarted, upgraded
// or rebalanced), the old primary answers "not primary" and usually names
// the new one; the client goes there at once. When it names nobody, or the
// server is unreachable, the client asks the meta server again (one query
// per table at a time, however many operations are waiting) and retries with
// a short exponential backoff (Config.RoutingBackoff) until the operation's
// deadline. A primary that is overloaded or short of replicas is retried with
// Config.BusyBackoff, without asking the meta server. A server that does
// not answer within Config.AttemptTimeout (1 s, doubled for each further
// attempt at the same server) may be cut off from the network and already
// replaced, so the client asks the meta server again rather than waiting on
// it until the deadline. Callers never see these transient errors unless
// the deadline passes first.
//
// # Errors
//
// Errors wrap the sentinels of this package (and context.DeadlineExceeded or
// context.Canceled when the context ended the operation); test them with
// errors.Is. Errors answered by a server are also an *Error, which carries
// the Pegasus error code and message; use errors.As to read them.
//
// Reads are never ambiguous: they succeed or they fail, and a failed read
// changed nothing.
//
// A write ends in one of three ways:
//
//   - Success (nil error): the write is applied, exactly once, and
//     replicated to every replica of the partition, and will not be lost.
//   - A definitive failure: the error does not wrap ErrUnknownOutcome, and
//     the write was not applied. This covers ErrInvalidArgument (checked by
//     the client before sending, or refused by the server; an Incr on a
//     non-integer, for one, changes nothing), ErrTableNotFound,
//     ErrIncompatibleVersion, ErrClosed before the write was sent, and
//     ErrTimeout or a canceled context when no attempt reached a server or
//     every attempt was refused outright (a partition short of replicas, a
//     server over capacity, a replica not serving the partition).
//   - An unknown outcome: the error wraps ErrUnknownOutcome together with
//     the reason. Either at least one attempt reached a server and no
//     definitive answer came back (usually ErrTimeout and
//     context.DeadlineExceeded: the connection broke, the deadline passed
//     while waiting, or the primary lost its role while replicating the
//     write; a primary in that position answers "not primary" too, yet the
//     write may still commit under its successor), or a server answered that
//     an Incr or CheckAndSet succeeded without the result it returns (with
//     ErrInternal: the write took effect, its result is lost). The write
//     may have been applied, at most once, or may still be applied shortly
//     after the error is returned. Read the record to find out, or repeat
//     the write if it is idempotent (Set, Del, MultiSet and MultiDel are;
//     Incr and CheckAndSet are not).
//
// # Exactly-once retries
//
// Retries inside one operation never apply a write twice, including Incr
// and CheckAndSet. Every write carries a RequestID (a random client id and a
// per-client sequence number) that stays the same across all attempts of
// the operation. A replica server records each write it applies with its
// RequestID and the result its caller gets back (an Incr's new value, a
// CheckAndSet's outcome and check value), in the same atomic batch as the
// write itself, on every replica of the partition. A retry of a write
// already applied is answered with that first result, by whichever replica
// is primary by then: one that restarted, caught up from a checkpoint or
// was promoted since. A retry of a write still being replicated waits for
// it and gets its result.
//
// The record is kept for the server's write_dedup_retention_seconds, which
// a server refuses to set below MaxWriteRetryWindow (2 minutes) plus a
// minute for clock differences between servers; and the client retries one
// write for at most MaxWriteRetryWindow from its start, whatever deadline
// its context carries (the write then ends with ErrTimeout, and
// ErrUnknownOutcome if an attempt reached a server). So no retry the client
// sends can find its record gone. The guarantee is per operation: calling
// the same method again after an error is a new operation with a new
// RequestID, and is not deduplicated; after an unknown outcome, read before
// repeating an Incr or CheckAndSet.
package client
