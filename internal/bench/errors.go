package bench

import "errors"

var (
	// ErrInvalidConfig wraps every validation failure of a Config or
	// Workload; the wrapping message names the offending field.
	ErrInvalidConfig = errors.New("bench: invalid config")

	// ErrRejected marks a target error after which the operation is known
	// not to have taken effect (for example the server refused it before
	// replicating it). A Target wraps such errors with it
	// (fmt.Errorf("%w: %w", bench.ErrRejected, err)). Every other write
	// error is an unknown outcome: the write may or may not have happened,
	// and the checkers allow both.
	ErrRejected = errors.New("bench: operation rejected")

	// ErrRunnerReused is returned by Runner.Run when called a second time:
	// a Runner owns one history and one clock origin.
	ErrRunnerReused = errors.New("bench: runner already ran")
)
