// Package redisproxy serves a Pegasus table to Redis clients: a RESP2
// server (on github.com/tidwall/redcon) that translates each Redis command
// into operations of the Pegasus client, in the spirit of Apache Pegasus'
// "Redis Adaption" proxy.
//
// # Data mapping
//
// A Redis key is a Pegasus hash key with an empty sort key; the value is
// the record's value and a Redis TTL is the record's TTL. Data written
// through the proxy is therefore visible to every Pegasus client and to
// Pegasus' own proxy, and the other way round. Keys must be 1 to 65534
// bytes (Pegasus' hash key limit); Redis' empty key is refused.
//
// # Commands and their guarantees
//
//	GET, SET, SETEX          one Pegasus get or set
//	SET ... NX / XX          check_and_set with CT_VALUE_NOT_EXIST / CT_VALUE_EXIST:
//	                         the check and the write are atomic on the primary
//	INCR, INCRBY, DECR, ...  Pegasus incr: atomic, keeps the TTL
//	EXPIRE                   read, then check_and_set CT_VALUE_BYTES_EQUAL on the
//	                         value read, writing it back with the new TTL; retried
//	                         when another writer changed the value in between, so it
//	                         is atomic in effect (see cmdExpire)
//	TTL, PTTL                Pegasus ttl (whole seconds)
//	DEL, EXISTS              exist (+ del) per key, concurrently
//	MGET, MSET               one get or set per key, concurrently, replies in order
//	PING, ECHO, SELECT 0, HELLO 2, INFO, COMMAND, CONFIG GET, QUIT
//
// Everything else is answered "ERR unknown command". Error replies use
// Redis' wording wherever Redis has one, because clients match on it.
//
// Differences from Redis follow from the store: TTLs have whole-second
// resolution (PX is rounded up); MSET and multi-key DEL are not atomic
// across keys, which live in different partitions; DEL's count, and
// EXPIRE's answer for a non-positive TTL, can be off when another client
// writes the same key at the same moment (the keys are deleted either way);
// INCR accepts what Pegasus accepts as an integer, and reports an
// overflowing sum as "not an integer"; only RESP2 is spoken (HELLO 3 gets
// NOPROTO, and clients fall back). A command that the store may or may not
// have applied (the client's ErrUnknownOutcome) is answered with an error
// that says so.
//
// # Pipelining
//
// Replies always come back in the order of the commands, and a command
// sees the effects of the commands sent before it on its connection. The
// commands of one pipeline that touch no common key run concurrently (up to
// Config.PipelineConcurrency), because a Pegasus round trip costs far more
// than the proxy's own work; see runPipeline.
//
// # Statelessness and shutdown
//
// The proxy keeps nothing between commands, so any number of proxies can
// serve one table behind a load balancer. Each command runs under
// Config.CommandTimeout (5 s by default). When Serve's context is canceled
// the proxy stops accepting connections, lets the commands already running
// finish and deliver their replies, and closes every connection: a command
// either runs and is answered, or does not run at all.
package redisproxy
