// Package embedetcd runs an etcd server inside the process: the metadata
// store of a onebox or test cluster, and of a meta server started without
// --etcd-endpoints. Production clusters point the meta servers at a real
// etcd cluster instead; the code paths above this package are the same.
package embedetcd

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// ErrNotReady is returned when the server does not become ready in time.
var ErrNotReady = errors.New("embedetcd: server not ready")

// ErrConfig is returned for a configuration that cannot work.
var ErrConfig = errors.New("embedetcd: bad configuration")

// Config describes one member.
type Config struct {
	Name      string
	Dir       string
	ClientURL string // e.g. http://127.0.0.1:2379
	PeerURL   string // e.g. http://127.0.0.1:2380
	// InitialCluster is "name=peerURL,..."; empty means a single-member cluster.
	InitialCluster string
	// StartTimeout bounds the wait for the member to serve (default 30 s).
	StartTimeout time.Duration
	// TLS, when set, serves clients and peers over mutual TLS with these
	// PEM files (the URLs must then be https): a client or peer needs a
	// certificate of the authority CAFile. etcd reads the certificate and
	// key again at each handshake, so they rotate without a restart.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a member's TLS identity.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Server is a running embedded etcd member.
type Server struct {
	etcd *embed.Etcd
	cfg  Config
}

// Start starts the member and returns once it serves clients.
func Start(cfg Config) (*Server, error) {
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: client url: %w", err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: peer url: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = cfg.InitialCluster
	if ec.InitialCluster == "" {
		ec.InitialCluster = cfg.Name + "=" + cfg.PeerURL
	}
	if cfg.TLS != nil {
		if cu.Scheme != "https" || pu.Scheme != "https" {
			return nil, fmt.Errorf("%w: TLS needs https client and peer URLs (got %s, %s)", ErrConfig, cfg.ClientURL, cfg.PeerURL)
		}
		info := transport.TLSInfo{
			CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, TrustedCAFile: cfg.TLS.CAFile,
			ClientCertAuth: true,
		}
		ec.ClientTLSInfo, ec.PeerTLSInfo = info, info
	}
	ec.LogLevel = "error"
	ec.Logger = "zap"
	// Metadata is small; keep the backend modest so a onebox stays light.
	ec.QuotaBackendBytes = 2 << 30
	ec.AutoCompactionMode = "revision"
	ec.AutoCompactionRetention = "10000"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: start %s: %w", cfg.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedetcd: %s: %w", cfg.Name, err)
	case <-time.After(cfg.StartTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("%w after %s", ErrNotReady, cfg.StartTimeout)
	}
	return &Server{etcd: e, cfg: cfg}, nil
}

// Endpoints returns the client endpoints to dial.
func (s *Server) Endpoints() []string { return []string{s.cfg.ClientURL} }

// Err reports a fatal server error.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the member.
func (s *Server) Close() { s.etcd.Close() }
