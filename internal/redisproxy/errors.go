package redisproxy

import "errors"

// Sentinel errors. Backends return ErrNotInteger so that the proxy can answer
// with Redis' own wording; the others come from the proxy itself.
var (
	// ErrNotInteger: INCR and friends found a value that is not a decimal
	// int64, or the sum would overflow. The record was not changed.
	ErrNotInteger = errors.New("redisproxy: value is not an integer or out of range")
	// ErrConcurrentUpdate: EXPIRE lost the race against other writers of the
	// key on every attempt, so the key's TTL was left as it was.
	ErrConcurrentUpdate = errors.New("redisproxy: key changed concurrently")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("redisproxy: invalid config")
	// ErrServing: Serve was called on a Server that is already serving or
	// has served.
	ErrServing = errors.New("redisproxy: server already started")
)
