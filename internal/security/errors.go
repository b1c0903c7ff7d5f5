package security

import "errors"

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrTLSConfig: the TLS files are missing, unreadable, or do not fit
	// together (a certificate the authority did not sign).
	ErrTLSConfig = errors.New("security: TLS configuration")
	// ErrTokens: the admin tokens file is missing or malformed.
	ErrTokens = errors.New("security: admin tokens")
	// ErrCert: making or reading a certificate failed.
	ErrCert = errors.New("security: certificate")
	// ErrAudit: the audit log cannot be opened.
	ErrAudit = errors.New("security: audit log")
	// ErrUnauthenticated: an admin call without any credential.
	ErrUnauthenticated = errors.New("security: unauthenticated")
	// ErrDenied: a caller whose credential does not allow the call.
	ErrDenied = errors.New("security: permission denied")
)
