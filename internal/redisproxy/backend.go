package redisproxy

import (
	"context"
	"time"
)

// Backend is the store the proxy translates Redis commands into: one record
// per Redis key, with an optional time to live. NewTableBackend adapts a
// Pegasus table (the Redis key becomes the hash key, under an empty sort
// key); tests use an in-memory implementation.
//
// Implementations must be safe for concurrent use: the proxy runs the
// commands of different connections, the independent commands of one
// pipeline and the keys of one MGET or MSET at the same time. They must not
// retain key or value slices after a call returns, because those alias the
// connection's read buffer.
//
// Every method returns a non-nil error only for a failure of the store
// (timeout, unavailability, a refused argument); "not found" is reported in
// the results.
type Backend interface {
	// Get returns the record's value; found is false when it does not exist
	// or has expired.
	Get(ctx context.Context, key []byte) (value []byte, found bool, err error)
	// Set writes the record unconditionally. A ttl of 0 means the record
	// never expires (and drops any TTL it had); a positive ttl is rounded up
	// to whole seconds, the store's resolution.
	Set(ctx context.Context, key, value []byte, ttl time.Duration) error
	// SetIf writes the record, as Set does, only if cond holds on its
	// current value; the check and the write are one atomic step. applied
	// reports whether the write happened.
	SetIf(ctx context.Context, key []byte, cond Condition, value []byte, ttl time.Duration) (applied bool, err error)
	// Del deletes the record; deleting a missing record succeeds.
	Del(ctx context.Context, key []byte) error
	// Exist reports whether the record exists.
	Exist(ctx context.Context, key []byte) (bool, error)
	// TTL returns the record's remaining time to live in whole seconds, or
	// NoTTL when it never expires; found is false when it does not exist.
	TTL(ctx context.Context, key []byte) (ttl time.Duration, found bool, err error)
	// Incr adds delta to the decimal integer stored in the record (a missing
	// record counts as 0), keeps the record's TTL, and returns the new
	// value. It fails with an error wrapping ErrNotInteger when the value is
	// not an integer or the sum overflows.
	Incr(ctx context.Context, key []byte, delta int64) (int64, error)
}

// NoTTL is the TTL of a record that never expires.
const NoTTL time.Duration = -1

// ConditionKind says what SetIf checks on the record's current value.
type ConditionKind uint8

const (
	// IfAbsent holds when the record does not exist (SET NX).
	IfAbsent ConditionKind = iota + 1
	// IfPresent holds when the record exists (SET XX).
	IfPresent
	// IfEqual holds when the record exists and its value equals
	// Condition.Value byte for byte (EXPIRE's compare-and-set).
	IfEqual
)

// Condition is the check of a SetIf.
type Condition struct {
	Kind ConditionKind
	// Value is the expected current value, for IfEqual only.
	Value []byte
}
