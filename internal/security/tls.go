package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of a TLS identity: the certificate authority
// that signs every certificate of the cluster, and this process's own
// certificate and key.
type Files struct {
	CA, Cert, Key string
}

// Configured reports whether TLS is asked for (any file named).
func (f Files) Configured() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// reloadInterval bounds how often the files are looked at for changes.
const reloadInterval = time.Second

// TLS is a TLS identity read from Files and read again when the files
// change, so that certificates (and the authority) rotate without a
// restart: every handshake uses the newest files that parsed. A rotation
// that fails to parse (a half-written file) is logged and the previous
// identity kept.
type TLS struct {
	files Files
	log   *slog.Logger

	mu      sync.Mutex
	checked time.Time
	stamps  [3]time.Time
	cert    *tls.Certificate
	leaf    *x509.Certificate
	pool    *x509.CertPool
}

// LoadTLS reads files; every one of them is required.
func LoadTLS(files Files, log *slog.Logger) (*TLS, error) {
	if files.CA == "" || files.Cert == "" || files.Key == "" {
		return nil, fmt.Errorf("%w: tls_ca_file, tls_cert_file and tls_key_file are all required (got %q, %q, %q)",
			ErrTLSConfig, files.CA, files.Cert, files.Key)
	}
	if log == nil {
		log = slog.Default()
	}
	t := &TLS{files: files, log: log}
	stamps, err := t.stamp()
	if err != nil {
		return nil, err
	}
	if err := t.load(stamps); err != nil {
		return nil, err
	}
	t.checked = time.Now()
	return t, nil
}

// Identity returns the identity of this process's certificate.
func (t *TLS) Identity() Identity {
	t.refresh()
	t.mu.Lock()
	defer t.mu.Unlock()
	return IdentityOf(t.leaf)
}

func (t *TLS) stamp() ([3]time.Time, error) {
	var s [3]time.Time
	for i, name := range []string{t.files.CA, t.files.Cert, t.files.Key} {
		fi, err := os.Stat(name)
		if err != nil {
			return s, fmt.Errorf("%w: %v", ErrTLSConfig, err)
		}
		s[i] = fi.ModTime()
	}
	return s, nil
}

func (t *TLS) load(stamps [3]time.Time) error {
	caPEM, err := os.ReadFile(t.files.CA)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTLSConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%w: %s holds no PEM certificate", ErrTLSConfig, t.files.CA)
	}
	cert, err := tls.LoadX509KeyPair(t.files.Cert, t.files.Key)
	if err != nil {
		return fmt.Errorf("%w: %s, %s: %v", ErrTLSConfig, t.files.Cert, t.files.Key, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTLSConfig, t.files.Cert, err)
	}
	// A certificate the authority did not sign would be refused by every
	// peer; say so now rather than at the first handshake.
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: %s is not signed by %s: %v", ErrTLSConfig, t.files.Cert, t.files.CA, err)
	}
	cert.Leaf = leaf
	t.mu.Lock()
	t.stamps, t.cert, t.leaf, t.pool = stamps, &cert, leaf, pool
	t.mu.Unlock()
	return nil
}

// refresh reloads the files if they changed, at most once per
// reloadInterval.
func (t *TLS) refresh() {
	t.mu.Lock()
	if time.Since(t.checked) < reloadInterval {
		t.mu.Unlock()
		return
	}
	t.checked = time.Now()
	old := t.stamps
	t.mu.Unlock()
	stamps, err := t.stamp()
	if err != nil || stamps == old {
		return
	}
	if err := t.load(stamps); err != nil {
		t.log.Warn("TLS files changed but cannot be used; keeping the previous ones", "err", err)
		return
	}
	t.log.Info("TLS certificate reloaded", "cert", t.files.Cert, "not_after", t.Identity().NotAfter)
}

func (t *TLS) current() (*tls.Certificate, *x509.CertPool) {
	t.refresh()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cert, t.pool
}

// ServerConfig is the server side of mutual TLS: the current certificate,
// and a client certificate signed by the current authority required of
// every client. nextProtos are the ALPN protocols ("h2" for gRPC).
func (t *TLS) ServerConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := t.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   nextProtos,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
			}, nil
		},
	}
}

// ClientConfig is the client side of mutual TLS: it presents the current
// certificate and verifies the server's against the current authority and
// the name dialled. The verification is crypto/x509's, done in
// VerifyConnection as crypto/tls documents for authorities that change
// while the process runs.
func (t *TLS) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := t.current()
			return cert, nil
		},
		// Verification happens in VerifyConnection, with the current pool.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, pool := t.current()
			return verifyPeer(cs, pool, x509.ExtKeyUsageServerAuth, cs.ServerName)
		},
	}
}

// verifyPeer checks the peer's chain against pool, and its name when name
// is not empty.
func verifyPeer(cs tls.ConnectionState, pool *x509.CertPool, usage x509.ExtKeyUsage, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errNoPeerCertificate
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err
}

var errNoPeerCertificate = errors.New("security: the peer presented no certificate")
