package config

import (
	"fmt"
	"strings"
)

// Security is how a server proves who it is and checks who calls it
// (docs/security.md). Every server role has these keys.
type Security struct {
	TLSCAFile       string `toml:"tls_ca_file" doc:"PEM file of the certificate authority of the cluster. Set with tls_cert_file and tls_key_file, it turns on mutual TLS: every listener (gRPC, HTTP, Pegasus protocol) offers TLS and asks clients for a certificate of this authority, and the server dials others over TLS. The three files are read again when they change: certificates rotate without a restart."`
	TLSCertFile     string `toml:"tls_cert_file" doc:"PEM certificate of this server, signed by tls_ca_file (pegasus cert makes them): its organizational unit is its role, its pegasus-node:// URI its node identity (the listen address)."`
	TLSKeyFile      string `toml:"tls_key_file" doc:"PEM private key of tls_cert_file."`
	TLSRequire      bool   `toml:"tls_require" doc:"Refuse plaintext connections on every listener. Without it, a server with TLS configured accepts plaintext too, which is how a running cluster moves to TLS (then every server restarts with tls_require)."`
	AdminTokensFile string `toml:"admin_tokens_file" doc:"File of admin tokens, one per line (optionally a name, a space, the token). A caller presenting one (Authorization: Bearer) may make admin calls; so may a certificate of role admin. Read again when it changes. With neither TLS nor tokens, admin calls are open to anyone who can connect."`
	AuditLog        string `toml:"audit_log" doc:"File every admin action is appended to (JSON lines: who, what, when, result). Empty: <data_dir>/audit.log (the collector: its log)."`
}

// TLSConfigured reports whether any TLS file is set.
func (s Security) TLSConfigured() bool {
	return s.TLSCAFile != "" || s.TLSCertFile != "" || s.TLSKeyFile != ""
}

// Validate checks that the TLS files come together.
func (s Security) Validate() error {
	if s.TLSConfigured() && (s.TLSCAFile == "" || s.TLSCertFile == "" || s.TLSKeyFile == "") {
		return fmt.Errorf("%w: tls_ca_file, tls_cert_file and tls_key_file must be set together", ErrInvalid)
	}
	if s.TLSRequire && !s.TLSConfigured() {
		return fmt.Errorf("%w: tls_require needs tls_ca_file, tls_cert_file and tls_key_file", ErrInvalid)
	}
	return nil
}

// Limits bound what peers can make a server hold (docs/security.md).
type Limits struct {
	MaxConnections       int    `toml:"max_connections" doc:"Open connections per listener; more are closed as they arrive. 0: 4096, or an eighth of the process's descriptor limit when that is lower."`
	IdleTimeoutSeconds   int    `toml:"idle_timeout_seconds" doc:"A Pegasus-protocol connection that sends nothing for this long is closed; so is a gRPC connection without calls."`
	MaxBufferedRequestMB int    `toml:"max_buffered_request_mb" doc:"Request bytes the server buffers at once across all its Pegasus-protocol connections; a connection whose frame does not fit waits (it is not read) until others are answered."`
	PprofListen          string `toml:"pprof_listen" doc:"Address of a listener serving Go's profiles (/debug/pprof/). Empty disables it. Profiles reveal internals: keep it on loopback."`
}

// DefaultLimits returns the limits' defaults.
func DefaultLimits() Limits {
	return Limits{IdleTimeoutSeconds: 600, MaxBufferedRequestMB: 256}
}

// Validate checks the limits.
func (l Limits) Validate() error {
	if l.MaxConnections < 0 || l.IdleTimeoutSeconds < 0 || l.MaxBufferedRequestMB < 0 {
		return fmt.Errorf("%w: max_connections, idle_timeout_seconds and max_buffered_request_mb must not be negative", ErrInvalid)
	}
	return nil
}

// Admission is which replica servers may join (Pegasus' replica server
// white list).
type Admission struct {
	EnableWhiteList  bool     `toml:"enable_white_list" doc:"Admit only the replica servers of replica_white_list: beacons of others are refused, they never get a partition and never count towards the live percentage. Changeable at run time with the fd.allow_list remote command."`
	ReplicaWhiteList []string `toml:"replica_white_list" doc:"Replica servers (their listen addresses, host:port) admitted when enable_white_list is set."`
}

// Validate checks the white list's entries.
func (a Admission) Validate() error {
	for _, n := range a.ReplicaWhiteList {
		if i := strings.LastIndexByte(n, ':'); i <= 0 || i == len(n)-1 {
			return fmt.Errorf("%w: replica_white_list entry %q is not host:port", ErrInvalid, n)
		}
	}
	return nil
}
