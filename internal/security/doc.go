// Package security holds who may talk to a cluster and what they may do:
//
//   - TLS identities read from PEM files and reloaded when the files change
//     (tls.go), for mutual TLS on every listener and every dial;
//   - certificates for a cluster (cert.go): an authority, and per process a
//     certificate whose organizational unit names its role and whose
//     pegasus-node:// URIs name the node identities it speaks for
//     (identity.go);
//   - admin tokens, for callers without an admin certificate (tokens.go);
//   - the Authorizer (authz.go, http.go): which gRPC method and HTTP
//     endpoint needs what, with the checks that tie a certificate to the
//     node a request claims to come from; every admin action goes to the
//     audit log (audit.go).
//
// docs/security.md is the operator's side of it: the threat model, what
// each listener requires, and how to create and rotate certificates and
// tokens.
package security
