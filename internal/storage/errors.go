package storage

import "errors"

// Errors returned by the store. Callers test them with errors.Is; most are
// wrapped with the offending sizes or names.
var (
	// ErrHashKeyTooLarge: the hash key exceeds MaxHashKeySize.
	ErrHashKeyTooLarge = errors.New("storage: hash key too large")
	// ErrSortKeyTooLarge: a sort key exceeds the configured limit.
	ErrSortKeyTooLarge = errors.New("storage: sort key too large")
	// ErrValueTooLarge: a value exceeds the configured limit.
	ErrValueTooLarge = errors.New("storage: value too large")
	// ErrInvalidTTL: a TTL is negative where only "none" (0) or a positive
	// number of seconds is meaningful.
	ErrInvalidTTL = errors.New("storage: invalid ttl")
	// ErrEmptyMultiOp: a multi-put or multi-remove names no sort key.
	ErrEmptyMultiOp = errors.New("storage: multi-key op without keys")
	// ErrInvalidCheckType: a check-and-set names an unknown check type.
	ErrInvalidCheckType = errors.New("storage: invalid check type")
	// ErrUnknownOp: a write op of a type this package does not define.
	ErrUnknownOp = errors.New("storage: unknown write op")

	// ErrIncrNotInteger: incr on a value that does not parse as an int64.
	ErrIncrNotInteger = errors.New("storage: incr on a value that is not an integer")
	// ErrIncrOverflow: the incremented value does not fit in an int64.
	ErrIncrOverflow = errors.New("storage: incr overflows int64")
	// ErrCheckNotInteger: an integer check found a check value or operand that
	// does not parse as an int64.
	ErrCheckNotInteger = errors.New("storage: integer check on a value that is not an integer")

	// ErrStaleDecree: Apply was given a decree not above the last applied one.
	ErrStaleDecree = errors.New("storage: decree not above last applied decree")
	// ErrNotFound: no live record under the key.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidKey: bytes that are not an encoded record key.
	ErrInvalidKey = errors.New("storage: invalid encoded key")
	// ErrCorrupt: malformed bytes where this package wrote well-formed ones
	// (a stored value, the store's metadata, an encoded op list).
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("storage: store closed")
)
