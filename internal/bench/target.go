package bench

import "context"

// Target is the key-value store under test. The load generator calls it from
// many goroutines at once, so implementations must be safe for concurrent
// use.
//
// Key and value slices are only valid during the call: the caller reuses
// them for its next operation, so a Target that keeps either must copy it.
//
// Every call must honour ctx's deadline. The Runner gives each operation its
// own timeout and waits for in-flight operations before reporting, so a
// Target that ignores ctx can stall the end of a run.
//
// Errors decide how the checkers treat an operation. A failed Get observed
// nothing. A failed Set or Del is an unknown outcome (it may have taken effect
// or not) unless the error wraps ErrRejected, which states that it did not.
type Target interface {
	// Get returns the value stored under key; found is false when the key
	// does not exist.
	Get(ctx context.Context, key []byte) (value []byte, found bool, err error)
	// Set stores value under key.
	Set(ctx context.Context, key, value []byte) error
	// Del removes key; removing an absent key is not an error.
	Del(ctx context.Context, key []byte) error
}
