package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// DefaultTickInterval is the replication core's tick: its timeouts are
// counted in ticks of this length.
const DefaultTickInterval = 100 * time.Millisecond

// Options are the parts of a server that are not configuration: injected
// dependencies and tuning for tests. The zero value is the production setup.
type Options struct {
	// FS holds every store and log; nil means the operating system's.
	// Tests inject faults through it.
	FS vfs.FS
	// Logger receives structured logs; nil means slog.Default(). Every line
	// carries the node, and lines about one partition its gpid.
	Logger *slog.Logger
	// TickInterval is the core's tick; zero means DefaultTickInterval.
	TickInterval time.Duration
	// Metrics holds the series the server updates; nil means a registry of
	// its own (internal/metrics).
	Metrics *metrics.Replica
	// MetricsHandler is served at /metrics on http_listen; nil means
	// Metrics' registry.
	MetricsHandler http.Handler
	// LogSegmentBytes, if set, overrides log_private_file_size_mb with a
	// size in bytes (tests use small segments so that GC has work).
	LogSegmentBytes int64
	// CoreConfig, if set, adjusts the replication core's tuning after it
	// was derived from the configuration.
	CoreConfig func(*pacifica.Config)
	// Security is the server's TLS identity, admin tokens, audit log and
	// connection limits (internal/security); nil serves plaintext and
	// checks no credential. Its TLS identity is also what the server shows
	// the meta servers and its peers.
	Security *security.Server
	// WriteDedupRetention, if set, overrides write_dedup_retention_seconds
	// without its lower bound, and groups request records in buckets of as
	// many seconds (tests of the retention's expiry).
	WriteDedupRetention time.Duration
	// Clock is the server's wall clock; nil means time.Now. Only mutation
	// timestamps (TTLs) and what operators read use it: tests step it to
	// show that leases do not.
	Clock func() time.Time
}

// Server is a replica server: it hosts partition replicas, serves clients
// and peers over gRPC, and reports to the meta servers.
type Server struct {
	cfg     config.Replica
	opts    Options
	fs      vfs.FS
	log     *slog.Logger
	node    pacifica.NodeID
	started time.Time

	grpcLis  net.Listener
	httpLis  net.Listener
	httpAddr string
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	pprof    *http.Server
	cache    *pebble.Cache
	auth     *security.Authorizer
	// metaMaxBallot is the meta's highest ballot as last heard in a
	// beacon answer; guardLog rate-limits refusals (guard.go).
	metaMaxBallot atomic.Int64
	guardLog      refusals

	peers     *transport
	meta      *metaClient
	proposals *proposalQueue
	// cluster is the cluster this server joined (clusterid.go).
	cluster clusterState
	// garbage tracks replicas moved aside (garbage.go).
	garbage garbageState

	mu         sync.Mutex
	partitions map[gpid]*partition
	opening    map[gpid]*opening
	// openRetries delays opening partitions whose last open failed
	// (corrupt.go).
	openRetries  map[gpid]openRetry
	closingCount int
	tables       map[int32]*pb.TableInfo
	closed       bool

	// tableNames maps app_id (int32) to the table's name for the metric
	// labels, without s.mu on the request path; storageSeen is the
	// ticker's own state for the per-table storage series (metrics.go).
	tableNames  sync.Map
	storageSeen map[gpid]int64
	// envs maps app_id (int32) to the *tableEnv in force (appenv.go),
	// read without s.mu on the request path.
	envs sync.Map

	// lease is the lease from the meta server (see beacon.go).
	lease     Lease
	tempSeq   atomic.Uint64
	openSlots chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once
	// fatal is closed, with fatalErr set, when the server cannot go on.
	fatal     chan struct{}
	fatalErr  error
	fatalOnce sync.Once
}

// concurrentOpens bounds the replicas opened (and replayed) at once.
const concurrentOpens = 4

// New creates a server: it binds the listeners and opens every replica
// found in data_dir, each replaying its log past its store's durable decree.
// The replicas stay inactive until the meta server's configurations arrive;
// nothing is served until Start.
func New(cfg config.Replica, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = DefaultTickInterval
	}
	// Without a clock of the caller's, the wall clock is the system's,
	// stepped by the test-only hook when it is on (wallclock.go).
	hook := newWallClock()
	if opts.Clock == nil {
		opts.Clock = hook.now
	}
	opts.setDefaultMetrics()
	s := &Server{
		cfg:         cfg,
		opts:        opts,
		fs:          opts.FS,
		started:     time.Now(),
		partitions:  make(map[gpid]*partition),
		opening:     make(map[gpid]*opening),
		openRetries: make(map[gpid]openRetry),
		tables:      make(map[int32]*pb.TableInfo),
		openSlots:   make(chan struct{}, concurrentOpens),
		fatal:       make(chan struct{}),
	}
	// Only the server's user reads its data (issue 16, finding 8).
	if err := s.fs.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("replica: create data_dir: %w", err)
	}
	if err := checkDataFormats(s.fs, cfg.DataDir); err != nil {
		return nil, err
	}
	id, err := readClusterID(s.fs, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.setClusterID(id)
	lis, err := opts.Security.ListenGRPC(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("replica: listen: %w", err)
	}
	s.grpcLis = lis
	s.node = pacifica.NodeID(cfg.Listen)
	if strings.HasSuffix(cfg.Listen, ":0") {
		s.node = pacifica.NodeID(lis.Addr().String())
	}
	s.log = opts.Logger.With("node", string(s.node))
	if hook.file != "" {
		s.log.Warn("test-only wall-clock offset hook is on: mutation timestamps (TTLs) read the clock shifted by the offset in this file",
			"env", WallClockOffsetEnv, "file", hook.file)
	}
	if cfg.HTTPListen != "" {
		if s.httpLis, err = opts.Security.ListenHTTP("http", cfg.HTTPListen); err != nil {
			_ = lis.Close()
			return nil, fmt.Errorf("replica: listen http: %w", err)
		}
		s.httpAddr = s.httpLis.Addr().String()
	}
	if cfg.BlockCacheMB > 0 {
		s.cache = pebble.NewCache(int64(cfg.BlockCacheMB) << 20)
	}
	s.peers = newTransport(s.node, s.peerDialOptions().NewClient, s.log)
	s.peers.clusterID = s.clusterID
	s.meta = newMetaClient(cfg.MetaServers, s.metaDialOptions())
	s.proposals = newProposalQueue(s)
	if err := s.loadPartitions(); err != nil {
		_ = s.closePartitions(false)
		s.release()
		return nil, err
	}
	s.auth = opts.Security.Authorizer(s.policy())
	gopts := append(rpc.ServerOptions(), opts.Security.GRPCServerOptions(s.auth)...)
	s.grpcSrv = grpc.NewServer(append(gopts,
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}))...)
	pb.RegisterReplicaClientServer(s.grpcSrv, clientService{s: s})
	pb.RegisterReplicaPeerServer(s.grpcSrv, peerService{s: s})
	pb.RegisterReplicaAdminServer(s.grpcSrv, adminService{s: s})
	if s.httpLis != nil {
		s.httpSrv = security.NewHTTPServer(s.httpHandler())
	}
	if cfg.PprofListen != "" {
		if s.pprof, err = metrics.ServeProfiles(opts.Security, cfg.PprofListen, s.log); err != nil {
			_ = s.closePartitions(false)
			s.release()
			return nil, fmt.Errorf("replica: %w", err)
		}
	}
	return s, nil
}

// The gRPC services are thin adapters, so that the generated "unimplemented"
// embeddings stay out of Server's method set.
type (
	clientService struct {
		pb.UnimplementedReplicaClientServer
		s *Server
	}
	peerService struct {
		pb.UnimplementedReplicaPeerServer
		s *Server
	}
	adminService struct {
		pb.UnimplementedReplicaAdminServer
		s *Server
	}
)

func (c clientService) Data(stream pb.ReplicaClient_DataServer) error { return c.s.serveData(stream) }

func (p peerService) Replicate(stream pb.ReplicaPeer_ReplicateServer) error {
	if err := p.s.checkPeerStream(stream.Context()); err != nil {
		return err
	}
	return p.s.serveReplicate(stream)
}

func (p peerService) FetchCheckpoint(req *pb.CheckpointRequest, stream pb.ReplicaPeer_FetchCheckpointServer) error {
	if err := p.s.checkPeerStream(stream.Context()); err != nil {
		return err
	}
	return p.s.serveCheckpoint(req, stream)
}

// keepaliveTime is how long a connection to another replica server may stay
// silent before it is probed. A server that vanished without closing its
// sockets (power loss, network partition) is then detected within
// keepaliveTime plus keepaliveTimeout and redialled, rather than after TCP's
// own timeouts of many minutes. Replica servers permit these probes; meta
// servers need none, as beacons carry their own deadlines.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// metaDialOptions are how the server reaches the meta servers: one
// attempt at one meta server lasts at most a beacon interval.
func (s *Server) metaDialOptions() dial.Options {
	return dial.Options{CallTimeout: s.cfg.BeaconInterval(), Credentials: s.credentials()}
}

// credentials are what the server shows others: its certificate.
func (s *Server) credentials() dial.Credentials {
	return dial.Credentials{TLS: s.opts.Security.ClientTLS()}
}

// peerDialOptions are how the server reaches other replica servers: with
// keepalive probes, so that a vanished peer is redialled quickly.
func (s *Server) peerDialOptions() dial.Options {
	return dial.Options{
		Credentials: s.credentials(),
		Keepalive:   &keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true},
	}
}

// Node returns the server's identity in partition configurations, its
// gRPC address.
func (s *Server) Node() string { return string(s.node) }

// HTTPAddr returns the address the HTTP listener is bound to, or "".
func (s *Server) HTTPAddr() string { return s.httpAddr }

// Start serves gRPC and HTTP and starts the beacon, tick, flush and
// proposal loops. It returns at once.
func (s *Server) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.goLoop(func() {
		if err := s.grpcSrv.Serve(s.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc server stopped", "err", err)
		}
	})
	if s.httpSrv != nil {
		s.goLoop(func() {
			if err := s.httpSrv.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		})
	}
	s.goLoop(func() { s.runTicker(ctx) })
	s.goLoop(func() { s.runFlusher(ctx) })
	s.goLoop(func() { s.runSweeper(ctx) })
	s.goLoop(func() { s.runBeacons(ctx) })
	s.goLoop(func() { s.runGarbageCollector(ctx) })
	s.goLoop(func() { s.proposals.run(ctx, s.cfg.BeaconInterval(), s.log) })
	s.log.Info("replica server started", "replicas", len(s.partitionList()), "http", s.httpAddr,
		"data_dir", s.cfg.DataDir)
}

func (s *Server) goLoop(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Run starts the server and shuts it down gracefully when ctx ends. It
// returns early, with the server's network stopped and its files left as
// they are, if the server hits a condition it cannot continue from (see
// ErrDataDirLost); the process should then exit.
func (s *Server) Run(ctx context.Context) error {
	s.Start()
	select {
	case <-ctx.Done():
		return s.Close()
	case <-s.fatal:
		s.stop.Do(func() {
			s.beginStop()
			s.stopNetwork()
			// The files stay as they are, but the connection to the
			// meta servers is network too.
			s.meta.close()
		})
		return s.fatalErr
	}
}

// die reports a condition the server cannot continue from.
func (s *Server) die(err error) {
	s.fatalOnce.Do(func() {
		s.log.Error("replica server cannot continue", "err", err)
		s.fatalErr = err
		close(s.fatal)
	})
}

// Close shuts the server down gracefully: it stops reporting and accepting
// work, closes every replica after flushing its store (so that a restart
// replays nothing), then closes the network and releases its files.
func (s *Server) Close() error {
	var err error
	s.stop.Do(func() {
		s.beginStop()
		err = s.closePartitions(true)
		s.stopNetwork()
		s.release()
		s.log.Info("replica server stopped", "err", err)
	})
	return err
}

// abort stops the server as a crash would, as far as a process can stop
// itself: the network goes first, so nothing it does afterwards is seen by
// anyone; then beforeDisk runs (a test freezes the filesystem there, so
// that closing writes nothing), then the replicas close without a flush.
func (s *Server) abort(beforeDisk func()) {
	s.stop.Do(func() {
		s.beginStop()
		s.stopNetwork()
		if beforeDisk != nil {
			beforeDisk()
		}
		_ = s.closePartitions(false)
		s.release()
	})
}

// beginStop marks the server closed and stops its loops.
func (s *Server) beginStop() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *Server) stopNetwork() {
	// Streams are long lived: a graceful gRPC stop would wait for clients
	// to hang up. Pending writes were answered when their replicas closed.
	s.grpcSrv.Stop()
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
	if s.pprof != nil {
		_ = s.pprof.Close()
	}
	s.peers.close()
	s.wg.Wait()
}

// closePartitions closes every replica, waiting for those being opened.
func (s *Server) closePartitions(flush bool) error {
	for {
		s.mu.Lock()
		busy := len(s.opening) > 0
		s.mu.Unlock()
		if !busy {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	ps := make([]*partition, 0, len(s.partitions))
	for _, p := range s.partitions {
		ps = append(ps, p)
	}
	clear(s.partitions)
	s.mu.Unlock()
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := p.close(flush); res.err != nil {
				errs[i] = fmt.Errorf("replica: close %s: %w", p.g, res.err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// release frees what New acquired.
func (s *Server) release() {
	s.meta.close()
	if s.grpcLis != nil {
		_ = s.grpcLis.Close()
	}
	if s.httpLis != nil {
		_ = s.httpLis.Close()
	}
	if s.cache != nil {
		s.cache.Unref()
		s.cache = nil
	}
}

// loadPartitions opens every replica in data_dir and records the garbage
// replicas (garbage.go), deleting those past their retention.
func (s *Server) loadPartitions() error {
	names, err := s.fs.List(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("replica: list data_dir: %w", err)
	}
	slices.Sort(names)
	var wg sync.WaitGroup
	s.collectGarbage(time.Now())
	for _, name := range names {
		g, ok := parseReplicaDir(name)
		if !ok {
			continue
		}
		dir := s.replicaDir(g)
		info, err := readReplicaInfo(s.fs, dir)
		if isNotExist(err) {
			// Creation writes the info file first: without it the directory
			// holds nothing (a crash while creating, or a copy that raced a
			// removal).
			s.log.Warn("removing a replica directory without info", "gpid", g.String(), "dir", dir)
			if err := s.fs.RemoveAll(dir); err != nil {
				return fmt.Errorf("replica: remove %s: %w", dir, err)
			}
			continue
		}
		if err != nil {
			// One damaged replica must not keep the server down: it is
			// moved aside for inspection if corrupt (corrupt.go), left in
			// place otherwise, and learned again.
			s.log.Error("skipping a replica that cannot be read", "gpid", g.String(), "dir", dir, "err", err)
			s.openFailed(g, dir, err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.openSlots <- struct{}{}
			p, err := s.openPartition(info, false)
			<-s.openSlots
			if err != nil {
				s.log.Error("skipping a replica that cannot be opened", "gpid", g.String(), "err", err)
				s.openFailed(g, dir, err)
				return
			}
			s.mu.Lock()
			s.partitions[g] = p
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	return nil
}

// dataDirCheckInterval paces the check that data_dir still exists.
const dataDirCheckInterval = time.Second

// runTicker ticks every replica's core from one ticker, and watches the
// lease and data_dir.
func (s *Server) runTicker(ctx context.Context) {
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	leased := false
	var checked time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, p := range s.partitionList() {
				p.ticks.Add(1)
				p.in.notify()
			}
			valid := s.leaseValid()
			if leased && !valid {
				s.log.Warn("meta server lease expired: lone primaries serve no reads until a beacon is accepted " +
					"(primaries with members hold their lease from them)")
			}
			leased = valid
			if now.Sub(checked) >= dataDirCheckInterval {
				checked = now
				s.refreshGauges(now)
				// A removed data_dir (an operator's mistake, a test's
				// cleanup) leaves every store retrying its background
				// writes forever; no replica can be served or closed.
				if _, err := s.fs.Stat(s.cfg.DataDir); isNotExist(err) {
					s.die(errorf(ErrDataDirLost, "%s", s.cfg.DataDir))
					return
				}
			}
		}
	}
}

// runFlusher makes every store durable and trims the logs every
// checkpoint_interval_seconds.
func (s *Server) runFlusher(ctx context.Context) {
	if s.cfg.CheckpointIntervalSeconds <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(s.cfg.CheckpointIntervalSeconds) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, p := range s.partitionList() {
				if _, _, err := p.flush(); err != nil && !errors.Is(err, ErrClosed) {
					p.log.Warn("periodic flush failed", "err", err)
				}
			}
		}
	}
}

// Expired records are deleted by a sweep (storage's DropExpired) in small
// steps: each step blocks the partition's writes while it runs, so it visits
// few records, often.
const (
	sweepInterval = time.Second
	sweepStepKeys = 256
)

// runSweeper deletes expired records and request records past their
// retention of every replica, one round each per sweepInterval.
func (s *Server) runSweeper(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, p := range s.partitionList() {
				if err := p.sweep(sweepStepKeys); err != nil && !errors.Is(err, ErrClosed) {
					p.log.Warn("expired-record sweep failed", "err", err)
				}
				if err := p.sweepRequests(); err != nil && !errors.Is(err, ErrClosed) {
					p.log.Warn("request-record sweep failed", "err", err)
				}
			}
		}
	}
}

// dedupRetention is how long request records are kept.
func (s *Server) dedupRetention() time.Duration {
	if s.opts.WriteDedupRetention > 0 {
		return s.opts.WriteDedupRetention
	}
	return time.Duration(s.cfg.WriteDedupRetentionSeconds) * time.Second
}

// partition returns the open replica of g, or nil.
func (s *Server) partition(g gpid) *partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partitions[g]
}

// partitionList returns the open replicas in gpid order.
func (s *Server) partitionList() []*partition {
	s.mu.Lock()
	ps := make([]*partition, 0, len(s.partitions))
	for _, p := range s.partitions {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	slices.SortFunc(ps, func(a, b *partition) int {
		if a.g.app != b.g.app {
			return int(a.g.app - b.g.app)
		}
		return int(a.g.index - b.g.index)
	})
	return ps
}

func (s *Server) replicaDir(g gpid) string { return s.fs.PathJoin(s.cfg.DataDir, g.String()) }

func (s *Server) storeOptions() storage.Options {
	retentionSeconds := int(max(time.Second, s.dedupRetention()) / time.Second)
	o := storage.Options{
		FS:                      s.fs,
		MaxSortKeySize:          s.cfg.MaxSortKeyBytes,
		MaxValueSize:            s.cfg.MaxValueBytes,
		Cache:                   s.cache,
		RequestRetentionSeconds: retentionSeconds,
	}
	if s.opts.WriteDedupRetention > 0 {
		// Tests of expiry: buckets short enough to expire within the test.
		o.RequestBucketSeconds = retentionSeconds
	}
	return o
}

func (s *Server) logOptions(g gpid) mutlog.Options {
	size := int64(s.cfg.LogPrivateFileSizeMB) << 20
	if s.opts.LogSegmentBytes > 0 {
		size = s.opts.LogSegmentBytes
	}
	return mutlog.Options{
		SegmentSize: size,
		NoSync:      !s.cfg.LogSync,
		OnSync:      s.observeLogSync,
		Logf: func(format string, args ...any) {
			s.log.Info(fmt.Sprintf(format, args...), "gpid", g.String())
		},
	}
}

// mono reads the server's monotonic clock: the time since the server was
// created, which no wall clock step changes. Leases and promises use it.
// It is positive from the first reading on (zero means "none" to the core).
func (s *Server) mono() pacifica.Time { return pacifica.Time(time.Since(s.started)) + 1 }

// now reads the wall clock (Options.Clock).
func (s *Server) now() time.Time { return s.opts.Clock() }

// coreConfig derives the replication core's tuning from the configuration.
func (s *Server) coreConfig(info replicaInfo) pacifica.Config {
	c := CoreConfig(s.cfg, s.opts.TickInterval, s.node, info.MaxReplicaCount, info.Incarnation)
	if s.opts.CoreConfig != nil {
		s.opts.CoreConfig(&c)
	}
	return c
}

// CoreConfig derives the replication core's tuning of a replica of a table
// with maxReplicas replicas, whose copy is incarnation, from a replica
// server's configuration, for a core ticked every tick. The whole-system
// simulation derives its cores' tuning with it too.
func CoreConfig(cfg config.Replica, tick time.Duration, node pacifica.NodeID, maxReplicas int32,
	incarnation uint64) pacifica.Config {
	ticks := func(ms int) int {
		return max(1, int(time.Duration(ms)*time.Millisecond/tick))
	}
	c := pacifica.Config{
		ID:                  node,
		Incarnation:         incarnation,
		Lease:               cfg.Lease(),
		Grace:               cfg.Grace(),
		MaxInflight:         cfg.MaxInflightMutations,
		MinReplicaCount:     max(1, min(cfg.Mutation2PCMinReplicaCount, int(maxReplicas))),
		CacheBytes:          cfg.MutationCacheMB << 20,
		GroupCheckTicks:     ticks(cfg.GroupCheckIntervalMs),
		PrepareTimeoutTicks: max(2, ticks(cfg.PrepareTimeoutMsForSecondaries)),
	}
	// Retransmit well within the timeout, so a lost prepare costs a retry,
	// not a member.
	c.PrepareRetryTicks = min(5, max(1, c.PrepareTimeoutTicks/3))
	return c
}
