package security

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Roles a certificate can carry, in its subject's organizational unit.
const (
	RoleMeta      = "meta"
	RoleReplica   = "replica"
	RoleCollector = "collector"
	RoleProxy     = "proxy"
	RoleClient    = "client"
	RoleAdmin     = "admin"
)

// Roles lists every role, for help texts and validation.
var Roles = []string{RoleMeta, RoleReplica, RoleCollector, RoleProxy, RoleClient, RoleAdmin}

// NodeScheme is the URI scheme of the subject alternative names that name
// a server's node identities: pegasus-node://127.0.0.1:34801 is the replica
// server whose gRPC address (its identity in partition configurations) is
// 127.0.0.1:34801. A meta server's node is its gRPC address too.
const NodeScheme = "pegasus-node"

// Identity is what a verified certificate says about its holder.
type Identity struct {
	// Name is the subject's common name, for logs and the audit log.
	Name string
	// Role is the first organizational unit of the subject.
	Role string
	// Nodes are the node identities the certificate may speak for.
	Nodes    []string
	NotAfter time.Time
}

// IdentityOf reads the identity of a certificate (nil gives the zero
// Identity).
func IdentityOf(c *x509.Certificate) Identity {
	if c == nil {
		return Identity{}
	}
	id := Identity{Name: c.Subject.CommonName, NotAfter: c.NotAfter}
	if len(c.Subject.OrganizationalUnit) > 0 {
		id.Role = c.Subject.OrganizationalUnit[0]
	}
	for _, u := range c.URIs {
		if u.Scheme == NodeScheme && u.Host != "" {
			id.Nodes = append(id.Nodes, u.Host)
		}
	}
	return id
}

// NodeURI is the subject alternative name naming node.
func NodeURI(node string) *url.URL { return &url.URL{Scheme: NodeScheme, Host: node} }

// Authenticated reports whether the identity comes from a certificate.
func (id Identity) Authenticated() bool { return id.Role != "" || id.Name != "" }

// Speaks reports whether the certificate names node.
func (id Identity) Speaks(node string) bool { return slices.Contains(id.Nodes, node) }

// String renders the identity for logs: "replica:replica1".
func (id Identity) String() string {
	if !id.Authenticated() {
		return "anonymous"
	}
	return id.Role + ":" + id.Name
}

// PeerIdentity returns the verified certificate identity of a gRPC
// caller, and false for a caller without one (plaintext, allowed only when
// TLS is optional).
func PeerIdentity(ctx context.Context) (Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return Identity{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return Identity{}, false
	}
	return IdentityOf(info.State.PeerCertificates[0]), true
}

// HTTPIdentity returns the verified certificate identity of an HTTP
// caller.
func HTTPIdentity(r *http.Request) (Identity, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return Identity{}, false
	}
	return IdentityOf(r.TLS.PeerCertificates[0]), true
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// value.
func bearerToken(v string) string {
	const prefix = "bearer "
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		return strings.TrimSpace(v[len(prefix):])
	}
	return ""
}
