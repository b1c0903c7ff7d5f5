package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/embedetcd"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Options configure a Server.
type Options struct {
	Config config.Meta
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// FD and LBInterval, when set, replace the second-granularity timings
	// of Config (tests run with milliseconds).
	FD         *decide.FDConfig
	LBInterval time.Duration
	// Admin delivers configurations to replica servers; nil uses gRPC.
	Admin ReplicaAdmin
	// Clock is the controller's clock; nil uses the system clock.
	Clock Clock
	// Metrics holds the series the server updates; nil means a registry
	// of its own. Mount its Handler at /metrics with Handle.
	Metrics *metrics.Meta
	// Security is the server's TLS identity, admin tokens, audit log and
	// connection limits; nil serves plaintext and checks no credential.
	// Its TLS identity is also what the server dials replica servers and
	// etcd with.
	Security *security.Server
}

// Server is a meta server: the gRPC Meta service, the HTTP API, the etcd
// client (and an embedded etcd when no endpoints are configured), the
// election and, while leading, the planning loop.
type Server struct {
	cfg        config.Meta
	log        *slog.Logger
	fd         decide.FDConfig
	knobs      decide.Knobs
	lbInterval time.Duration
	clock      Clock
	admin      ReplicaAdmin
	grpcAdmin  *GRPCReplicaAdmin
	metrics    *metrics.Meta
	keys       keys
	started    time.Time // for server-info

	ctl      *Controller
	addr     string
	httpAddr string
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	mux      *http.ServeMux
	sec      *security.Server
	auth     *security.Authorizer
	pprof    *http.Server

	// clusterIDValue is the cluster's id, fixed at bootstrap
	// (clusterid.go): nil until this server read it from etcd, never
	// changed afterwards.
	clusterIDValue atomic.Pointer[string]

	etcd          *embedetcd.Server
	cli           *clientv3.Client
	etcdEndpoints []string
	el            *elector

	cancel      context.CancelFunc
	loopDone    chan struct{}
	stopOnce    sync.Once
	closeClient func()
}

// NewServer checks the configuration; Start brings the server up.
func NewServer(opts Options) (*Server, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClusterName == "" || strings.ContainsAny(cfg.ClusterName, "/ ") {
		return nil, fmt.Errorf("%w: cluster_name %q must be non-empty, without '/' or spaces", ErrInvalidOptions, cfg.ClusterName)
	}
	fd := decide.DefaultFDConfig()
	fd.BeaconInterval, fd.Lease, fd.Grace = cfg.BeaconInterval(), cfg.Lease(), cfg.Grace()
	fd.MaxUnstableRestarts = cfg.MaxSuccessiveUnstableRestart
	if opts.FD != nil {
		fd = *opts.FD
	}
	if err := fd.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	knobs, err := knobsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	lb := time.Duration(cfg.LBIntervalMs) * time.Millisecond
	if opts.LBInterval > 0 {
		lb = opts.LBInterval
	}
	if lb <= 0 {
		return nil, fmt.Errorf("%w: lb_interval_ms must be positive", ErrInvalidOptions)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, log: log, fd: fd, knobs: knobs, lbInterval: lb, clock: opts.Clock,
		admin: opts.Admin, keys: newKeys(cfg.ClusterName), mux: http.NewServeMux(), metrics: opts.Metrics,
		sec:     opts.Security,
		started: time.Now(),
	}
	s.auth = s.sec.Authorizer(s.policy())
	s.closeClient = sync.OnceFunc(func() {
		if s.cli != nil {
			s.cli.Close()
		}
	})
	if s.admin == nil {
		s.grpcAdmin = NewGRPCReplicaAdmin(dial.Options{Credentials: dial.Credentials{TLS: opts.Security.ClientTLS()}})
		s.admin = s.grpcAdmin
	}
	return s, nil
}

// knobsFromConfig returns the configuration file's knob values.
func knobsFromConfig(cfg config.Meta) (decide.Knobs, error) {
	level, err := decide.ParseLevel(cfg.MetaFunctionLevelOnStart)
	if err != nil {
		return decide.Knobs{}, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if cfg.ReplicaAssignDelayMsForDropouts < 0 || cfg.AddSecondaryMaxCountForOneNode < 0 ||
		cfg.NodeLivePercentageThreshold < 0 || cfg.NodeLivePercentageThreshold > 100 || cfg.MinLiveNodeCountForUnfreeze < 0 {
		return decide.Knobs{}, fmt.Errorf("%w: negative knob, or live percentage above 100", ErrInvalidOptions)
	}
	return decide.Knobs{
		AssignDelay:                    time.Duration(cfg.ReplicaAssignDelayMsForDropouts) * time.Millisecond,
		AddSecondaryMaxCountForOneNode: cfg.AddSecondaryMaxCountForOneNode,
		LivePercentage:                 cfg.NodeLivePercentageThreshold,
		MinLiveNodeCountForUnfreeze:    cfg.MinLiveNodeCountForUnfreeze,
		Level:                          level,
	}, nil
}

// Start listens, connects to etcd (starting the embedded one if no
// endpoints are configured) and joins the election. It returns once the
// server answers RPCs; leadership comes in the background.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			if s.grpcSrv != nil {
				s.grpcSrv.Stop()
			}
			if s.httpSrv != nil {
				s.httpSrv.Close()
			}
			if s.pprof != nil {
				s.pprof.Close()
			}
			s.closeResources()
		}
	}()
	lis, err := s.sec.ListenGRPC(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("meta: listen %s: %w", s.cfg.Listen, err)
	}
	s.addr = advertised(lis.Addr())
	s.log = s.log.With("role", "meta", "node", s.addr)
	if err := s.connectEtcd(); err != nil {
		lis.Close()
		return err
	}
	// The cluster id is read from etcd in the background (campaign, below):
	// a meta server whose etcd does not answer still answers ClusterInfo,
	// saying why it cannot lead, while every message that carries a
	// cluster id is sent on as by a follower until the id is known.
	ctl, err := NewController(ControllerConfig{
		Self: s.addr, FD: s.fd, Knobs: s.knobs, Metrics: s.metrics,
		Admission: AdmissionConfig{Enabled: s.cfg.EnableWhiteList, Nodes: s.cfg.ReplicaWhiteList},
	}, s.clock, s.admin, s.log)
	if err != nil {
		lis.Close()
		return err
	}
	s.metrics = ctl.cfg.Metrics
	s.ctl = ctl
	s.grpcSrv = grpc.NewServer(append(rpc.ServerOptions(), s.sec.GRPCServerOptions(s.auth)...)...)
	pb.RegisterMetaServer(s.grpcSrv, &metaService{srv: s})
	go func() {
		if err := s.grpcSrv.Serve(lis); err != nil {
			s.log.Error("grpc server", "err", err)
		}
	}()
	if s.cfg.HTTPListen != "" {
		hl, err := s.sec.ListenHTTP("http", s.cfg.HTTPListen)
		if err != nil {
			return fmt.Errorf("meta: listen %s: %w", s.cfg.HTTPListen, err)
		}
		s.httpAddr = advertised(hl.Addr())
		s.registerHTTP()
		s.httpSrv = security.NewHTTPServer(s.mux)
		go func() {
			if err := s.httpSrv.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server", "err", err)
			}
		}()
	}
	if s.cfg.PprofListen != "" {
		if s.pprof, err = metrics.ServeProfiles(s.sec, s.cfg.PprofListen, s.log); err != nil {
			return fmt.Errorf("meta: %w", err)
		}
	}
	s.el = &elector{
		cli:  s.cli,
		keys: s.keys,
		self: s.addr,
		record: metaRecord{
			Address: s.addr, HTTPAddress: s.httpAddr, PegasusAddress: s.cfg.PegasusListen,
			ProtocolVersion: protocolString(), BinaryVersion: version.Release(), StartTimeMs: time.Now().UnixMilli(),
		},
		ttl:      s.cfg.ElectionTTLSeconds,
		log:      s.log,
		lead:     s.lead,
		observed: s.observed,
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.loopDone = make(chan struct{})
	go func() {
		defer close(s.loopDone)
		// No campaign before the cluster id is known: a leader must stamp
		// its pushes and check beacons with it.
		if s.adoptClusterID(lctx) {
			s.el.run(lctx)
		}
	}()
	s.log.Info("meta server started", "grpc", s.addr, "http", s.httpAddr, "etcd", strings.Join(s.etcdEndpoints, ","),
		"cluster", s.cfg.ClusterName, "protocol", protocolString())
	return nil
}

// connectEtcd dials the configured etcd, or starts the embedded one.
func (s *Server) connectEtcd() error {
	s.etcdEndpoints = s.cfg.EtcdEndpoints
	if len(s.etcdEndpoints) == 0 {
		ec := embedetcd.Config{
			Name:      "meta",
			Dir:       filepath.Join(s.cfg.DataDir, "etcd"),
			ClientURL: s.cfg.EtcdClientURL,
			PeerURL:   s.cfg.EtcdPeerURL,
		}
		if s.cfg.TLSConfigured() {
			// The embedded etcd serves with the meta server's own
			// certificate; its URLs must then be https.
			ec.TLS = &embedetcd.TLSFiles{CAFile: s.cfg.TLSCAFile, CertFile: s.cfg.TLSCertFile, KeyFile: s.cfg.TLSKeyFile}
		}
		e, err := embedetcd.Start(ec)
		if err != nil {
			return err
		}
		s.etcd = e
		s.etcdEndpoints = e.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   s.etcdEndpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		TLS:         s.sec.ClientTLS(),
	})
	if err != nil {
		return fmt.Errorf("meta: etcd client: %w", err)
	}
	s.cli = cli
	return nil
}

// lead runs one leadership term: load, then a planning round every
// lb_interval_ms, and at once when the controller asks (Wake), until the
// term ends.
func (s *Server) lead(ctx context.Context, fence Fence) {
	tctx, err := s.ctl.BecomeLeader(ctx, NewEtcdStore(s.cli, s.cfg.ClusterName, fence))
	if err != nil {
		s.log.Error("cannot lead: loading metadata failed", "err", err)
		return
	}
	defer s.ctl.StepDown("")
	tick := time.NewTicker(s.lbInterval)
	defer tick.Stop()
	for {
		select {
		case <-tctx.Done():
			return
		case <-tick.C:
		case <-s.ctl.Wake():
		}
		if _, err := s.ctl.Round(tctx); err != nil && !errors.Is(err, ErrNotLeader) && tctx.Err() == nil {
			s.log.Warn("planning round", "err", err)
		}
	}
}

func (s *Server) observed(leader string) {
	if leader != s.addr {
		s.ctl.SetLeaderHint(leader)
	}
}

// Stop shuts down gracefully: it resigns leadership first, so that a
// follower takes over at once, then stops serving.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			select {
			case <-s.loopDone:
			case <-ctx.Done():
			}
		}
		if s.grpcSrv != nil {
			stopped := make(chan struct{})
			go func() {
				s.grpcSrv.GracefulStop()
				close(stopped)
			}()
			select {
			case <-stopped:
			case <-ctx.Done():
				s.grpcSrv.Stop()
			}
		}
		if s.httpSrv != nil {
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				s.httpSrv.Close()
			}
		}
		if s.pprof != nil {
			s.pprof.Close()
		}
		s.closeResources()
		s.log.Info("meta server stopped")
	})
	return ctx.Err()
}

// abort stops the server as a crash would: no resignation, no lease
// revocation, connections cut. A follower takes over once the session TTL
// runs out.
func (s *Server) abort() {
	s.stopOnce.Do(func() {
		if s.el != nil {
			s.el.aborting.Store(true)
		}
		s.closeClient()
		if s.grpcSrv != nil {
			s.grpcSrv.Stop()
		}
		if s.httpSrv != nil {
			s.httpSrv.Close()
		}
		if s.cancel != nil {
			s.cancel()
			<-s.loopDone
		}
		s.closeResources()
	})
}

func (s *Server) closeResources() {
	if s.ctl != nil {
		s.ctl.Close()
	}
	if s.grpcAdmin != nil {
		s.grpcAdmin.Close()
	}
	s.closeClient()
	if s.etcd != nil {
		s.etcd.Close()
		s.etcd = nil
	}
}

// Addr is the gRPC address this server advertises (its identity).
func (s *Server) Addr() string { return s.addr }

// HTTPAddr is the HTTP API's address, empty when disabled.
func (s *Server) HTTPAddr() string { return s.httpAddr }

// IsLeader reports whether this server leads.
func (s *Server) IsLeader() bool { return s.ctl != nil && s.ctl.Leading() }

// Leader returns the leader's gRPC address as far as known.
func (s *Server) Leader() string {
	if s.ctl == nil {
		return ""
	}
	return s.ctl.Leader()
}

// Controller returns the server's controller (tests, metrics).
func (s *Server) Controller() *Controller { return s.ctl }

// Handle registers an extra HTTP handler on the HTTP API's server. The
// cluster web page and /metrics are mounted here.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// metaServers lists the running meta servers from their etcd records. It
// takes at most half of the caller's remaining time (and a second): when
// etcd does not answer, the caller still gets this server's own record in
// time, and with it the reason it cannot lead.
func (s *Server) metaServers(ctx context.Context) []metaRecord {
	budget := time.Second
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)/2)
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.keys.metas(), clientv3.WithPrefix())
	if err != nil {
		return []metaRecord{{Address: s.addr, HTTPAddress: s.httpAddr, ProtocolVersion: protocolString()}}
	}
	out := make([]metaRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var r metaRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			addr, _ := s.keys.metaAddress(string(kv.Key))
			r = metaRecord{Address: addr}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b metaRecord) int { return strings.Compare(a.Address, b.Address) })
	return out
}

// advertised turns a listener's address into one others can dial: an
// unspecified host (0.0.0.0, ::) becomes the machine's host name.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// protocolString is this server's protocol version as beacons carry it.
func protocolString() string { return version.Current().String() }
