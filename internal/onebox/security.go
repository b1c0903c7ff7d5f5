package onebox

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/security"
)

// A onebox's credentials (docs/security.md).
//
// Every new onebox gets an admin token in <dir>/admin_token (mode 0600)
// that every server accepts, so its admin calls are never open to whoever
// reaches its ports; the supervisor, `pegasus shell` and the other
// commands run next to the onebox directory find it by themselves. With
// TLS (onebox start --tls) it also gets an authority and one certificate
// per process in <dir>/certs, every server requires mutual TLS
// (tls_require), etcd included, and the commands find the admin
// certificate the same way.

// Files of a onebox's credentials, relative to its directory.
const (
	adminTokenFile = "admin_token"
	certsDir       = "certs"
	adminCertName  = "admin"
)

// certRole maps a process's role to its certificate's. etcd is part of
// the metadata tier and never calls the cluster's services.
func certRole(r Role) string {
	switch r {
	case RoleMeta, RoleEtcd:
		return security.RoleMeta
	case RoleReplica:
		return security.RoleReplica
	case RoleCollector:
		return security.RoleCollector
	}
	return security.RoleClient
}

// setupSecurity writes the admin token and, with TLS, the authority, a
// certificate for every process and one for the admin tools. It runs once,
// when the onebox is created, after its addresses are chosen.
func setupSecurity(dir string, st *State, withTLS bool) error {
	if _, err := security.WriteTokenFile(filepath.Join(dir, adminTokenFile)); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	st.AdminToken = true
	if !withTLS {
		return nil
	}
	ca, err := security.CreateCA(filepath.Join(dir, certsDir), "pegasus onebox "+st.ClusterName, 0)
	if err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	st.TLS = true
	for _, p := range st.Processes {
		if err := issueFor(ca, p); err != nil {
			return err
		}
	}
	if _, _, err := ca.Issue(security.CertRequest{Name: adminCertName, Role: security.RoleAdmin}); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	return nil
}

// issueFor issues the certificate of one process: its node identity is
// its gRPC address (the collector's, its HTTP address), its names every
// host it listens on.
func issueFor(ca *security.CA, p Process) error {
	req := security.CertRequest{Name: p.Name, Role: certRole(p.Role)}
	switch p.Role {
	case RoleMeta, RoleReplica:
		req.Nodes = []string{p.Address}
	case RoleCollector:
		req.Nodes = []string{p.HTTPAddress}
	}
	for _, a := range []string{p.Address, p.HTTPAddress, p.PegasusAddress, p.PeerAddress} {
		if host, _, err := net.SplitHostPort(a); err == nil && !slices.Contains(req.Hosts, host) {
			req.Hosts = append(req.Hosts, host)
		}
	}
	if _, _, err := ca.Issue(req); err != nil {
		return fmt.Errorf("onebox: certificate of %s: %w", p.Name, err)
	}
	return nil
}

// fromProcess is the path of a onebox file as a process, which runs in
// its own directory, names it.
func fromProcess(rel ...string) string {
	return filepath.Join(append([]string{".."}, rel...)...)
}

// roleSecurity is the security section of a process's configuration.
func (st *State) roleSecurity(p *Process) config.Security {
	var s config.Security
	if st.AdminToken {
		s.AdminTokensFile = fromProcess(adminTokenFile)
	}
	if st.TLS {
		s.TLSCAFile = fromProcess(certsDir, security.CAFile)
		s.TLSCertFile = fromProcess(certsDir, p.Name+".pem")
		s.TLSKeyFile = fromProcess(certsDir, p.Name+"-key.pem")
		s.TLSRequire = true
	}
	return s
}

// etcdTLSArgs are the flags that give the onebox's etcd its certificate.
func (st *State) etcdTLSArgs(p *Process) []string {
	if !st.TLS {
		return nil
	}
	return []string{
		"--tls-ca", fromProcess(certsDir, security.CAFile),
		"--tls-cert", fromProcess(certsDir, p.Name+".pem"),
		"--tls-key", fromProcess(certsDir, p.Name+"-key.pem"),
	}
}

// scheme is the URL scheme of the onebox's HTTP listeners and etcd.
func (st *State) scheme() string {
	if st.TLS {
		return "https"
	}
	return "http"
}

// AdminFiles names the admin credentials of the onebox in dir, the ones
// that exist: its admin token and, for a TLS onebox, its admin
// certificate. Commands run next to a onebox use them when given none.
func AdminFiles(dir string) security.ClientFiles {
	var f security.ClientFiles
	if p := filepath.Join(dir, adminTokenFile); fileExists(p) {
		f.TokenFile = p
	}
	certs := filepath.Join(dir, certsDir)
	cert, key := security.CertFiles(certs, adminCertName)
	if ca := filepath.Join(certs, security.CAFile); fileExists(ca) && fileExists(cert) && fileExists(key) {
		f.TLS = security.Files{CA: ca, Cert: cert, Key: key}
	}
	return f
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Credentials are the admin credentials of the onebox, what the
// supervisor itself calls the cluster with.
func (c *Cluster) Credentials() dial.Credentials { return c.creds }

// loadCredentials reads the onebox's admin credentials.
func loadCredentials(dir string) (dial.Credentials, error) {
	files := AdminFiles(dir)
	if files.Empty() {
		return dial.Credentials{}, nil
	}
	creds, err := files.Load(slog.New(slog.DiscardHandler))
	if err != nil {
		return creds, fmt.Errorf("onebox: admin credentials: %w", err)
	}
	return creds, nil
}
