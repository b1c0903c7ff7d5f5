package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Certificates are made with crypto/x509 and ECDSA P-256 keys: a cluster
// authority, and per process a certificate naming its role (organizational
// unit), its node identities (pegasus-node:// URIs) and the host names and
// addresses it is dialled at (DNS and IP names). Every certificate may
// serve and dial (server and client auth): every server also calls others.

// Validity defaults.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
)

// File names inside a certificate directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// CertFiles returns the certificate and key file of name in dir.
func CertFiles(dir, name string) (cert, key string) {
	return filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
}

// CA is a certificate authority able to issue certificates.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	dir  string
}

// Dir returns the directory the authority's files are in.
func (ca *CA) Dir() string { return ca.dir }

// CreateCA makes a new authority named name in dir (ca.pem, and
// ca-key.pem with mode 0600). It refuses to overwrite an existing one.
func CreateCA(dir, name string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCert, err)
	}
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		return nil, fmt.Errorf("%w: %s exists; use it, or remove it to start a new authority", ErrCert, keyPath)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCert, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"pegasus"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCert, err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, dir: dir}, nil
}

// LoadCA reads the authority of dir.
func LoadCA(dir string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCert, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCert, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not an authority made by pegasus cert", ErrCert, dir)
	}
	return &CA{Cert: cert, Key: key, dir: dir}, nil
}

// CertRequest describes a certificate to issue.
type CertRequest struct {
	// Name is the common name and the file name (<name>.pem).
	Name string
	// Role goes into the organizational unit (see Roles).
	Role string
	// Nodes are the node identities the holder speaks for (gRPC addresses).
	Nodes []string
	// Hosts are the DNS names and IP addresses the holder is dialled at;
	// the hosts of Nodes are added.
	Hosts    []string
	Validity time.Duration
}

// Issue signs a certificate for req and writes it with its key (mode 0600)
// into the authority's directory, replacing older ones of the same name:
// a running server picks the new pair up at its next handshake.
func (ca *CA) Issue(req CertRequest) (certPath, keyPath string, err error) {
	if !slices.Contains(Roles, req.Role) {
		return "", "", fmt.Errorf("%w: role %q is not one of %v", ErrCert, req.Role, Roles)
	}
	if req.Name == "" {
		return "", "", fmt.Errorf("%w: empty certificate name", ErrCert)
	}
	if req.Validity <= 0 {
		req.Validity = DefaultCertValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrCert, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.Name, OrganizationalUnit: []string{req.Role}, Organization: []string{"pegasus"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(req.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	hosts := slices.Clone(req.Hosts)
	for _, n := range req.Nodes {
		host, _, err := net.SplitHostPort(n)
		if err != nil {
			return "", "", fmt.Errorf("%w: node %q is not host:port", ErrCert, n)
		}
		tmpl.URIs = append(tmpl.URIs, NodeURI(n))
		hosts = append(hosts, host)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrCert, err)
	}
	certPath, keyPath = CertFiles(ca.dir, req.Name)
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// writePair writes a certificate and its key (both 0600: a certificate is
// no secret, but a certificate directory is only its owner's business),
// each through a temporary file and a rename, so that a server reloading
// them never reads half a file.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}
