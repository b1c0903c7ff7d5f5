package appenv

import "errors"

// Sentinel errors; every error the package returns wraps one of them.
var (
	// ErrUnknownKey: a key this server gives no meaning to.
	ErrUnknownKey = errors.New("appenv: unsupported table environment variable")
	// ErrInvalidValue: a value the key's syntax does not allow.
	ErrInvalidValue = errors.New("appenv: invalid value")
)
