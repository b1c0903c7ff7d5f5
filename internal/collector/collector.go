package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/security"
)

// shutdownTimeout bounds how long Serve waits for HTTP requests in flight
// after its context ends.
const shutdownTimeout = 5 * time.Second

// Options configure a Collector.
type Options struct {
	MetaServers []string
	// HTTPListen is the address Run serves the page and the API on.
	HTTPListen string

	DetectTable          string
	DetectPartitionCount int
	DetectReplicaCount   int
	DetectInterval       time.Duration
	DetectTimeout        time.Duration

	// ScrapeInterval is how often every replica server's /metrics is read.
	ScrapeInterval time.Duration

	// Credentials are what the collector shows the servers it calls: its
	// certificate when the cluster runs TLS, and the admin token that lets
	// it create the detection table.
	Credentials dial.Credentials
	// Security is what its HTTP listener requires (TLS, connection cap)
	// and who may post to it (the roll's API needs an admin); nil serves
	// plaintext to anyone.
	Security *security.Server
	// PprofListen, when set, serves Go's profiles there.
	PprofListen string

	// Logger receives the collector's logs; nil means slog.Default().
	Logger *slog.Logger
}

// OptionsFromConfig converts the collector's configuration file.
func OptionsFromConfig(cfg config.Collector) Options {
	return Options{
		MetaServers:          cfg.MetaServers,
		HTTPListen:           cfg.HTTPListen,
		DetectTable:          cfg.DetectTable,
		DetectPartitionCount: cfg.DetectPartitionCount,
		DetectReplicaCount:   cfg.DetectReplicaCount,
		DetectInterval:       time.Duration(cfg.DetectIntervalSeconds) * time.Second,
		DetectTimeout:        time.Duration(cfg.DetectTimeoutMs) * time.Millisecond,
		ScrapeInterval:       time.Duration(cfg.ScrapeIntervalSeconds) * time.Second,
		PprofListen:          cfg.PprofListen,
	}
}

func (o Options) validate() error {
	switch {
	case len(o.MetaServers) == 0:
		return fmt.Errorf("%w: no meta server", ErrInvalidOptions)
	case o.DetectTable == "":
		return fmt.Errorf("%w: no detection table", ErrInvalidOptions)
	case o.DetectPartitionCount < 1 || o.DetectReplicaCount < 1:
		return fmt.Errorf("%w: detection table needs at least one partition and one replica", ErrInvalidOptions)
	case o.DetectInterval <= 0 || o.DetectTimeout <= 0 || o.ScrapeInterval <= 0:
		return fmt.Errorf("%w: detect interval, detect timeout and scrape interval must be positive", ErrInvalidOptions)
	}
	for _, a := range o.MetaServers {
		if a == "" {
			return fmt.Errorf("%w: empty meta server address", ErrInvalidOptions)
		}
	}
	return nil
}

// Collector is the collector role: the availability detector, the traffic
// aggregation, and the HTTP server of the cluster page and the JSON API.
type Collector struct {
	opts       Options
	logger     *slog.Logger
	metas      *dial.Conns
	metrics    *metrics.Collector
	detector   *detector
	aggregator *aggregator
	cluster    *clusterReader
	rolling    *rollingBoard
	handler    http.Handler
	auth       *security.Authorizer
	// now is the clock of issued probes and reports; tests replace it.
	now func() time.Time
}

// New builds a collector. It connects to nothing until Run or Serve.
func New(opts Options) (*Collector, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	c := &Collector{
		opts:    opts,
		logger:  logger,
		metas:   newMetaConns(opts.MetaServers, opts.Credentials),
		metrics: metrics.NewCollector(),
		rolling: &rollingBoard{},
		now:     time.Now,
	}
	c.cluster = &clusterReader{metas: c.metas}
	c.detector = newDetector(detectorOptions{
		MetaServers:    opts.MetaServers,
		Table:          opts.DetectTable,
		PartitionCount: opts.DetectPartitionCount,
		ReplicaCount:   opts.DetectReplicaCount,
		Interval:       opts.DetectInterval,
		Timeout:        opts.DetectTimeout,
		TLS:            opts.Credentials.TLS,
	}, c.metas, c.metrics, logger, func() time.Time { return c.now() })
	c.aggregator = newAggregator(c.metas, opts.ScrapeInterval, opts.Credentials, logger)
	c.auth = opts.Security.Authorizer(nil)
	c.handler = c.routes()
	return c, nil
}

// Handler serves the cluster page and the JSON API.
func (c *Collector) Handler() http.Handler { return c.handler }

// Run listens on Options.HTTPListen and calls Serve.
func (c *Collector) Run(ctx context.Context) error {
	lis, err := c.opts.Security.ListenHTTP("http", c.opts.HTTPListen)
	if err != nil {
		return fmt.Errorf("collector: listen on %s: %w", c.opts.HTTPListen, err)
	}
	return c.Serve(ctx, lis)
}

// Serve runs the detector and the aggregation and serves HTTP on lis until
// ctx ends, then shuts down gracefully. It returns nil after a shutdown
// asked by ctx and the server's error otherwise.
func (c *Collector) Serve(ctx context.Context, lis net.Listener) error {
	defer c.metas.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := security.NewHTTPServer(c.handler)
	if c.opts.PprofListen != "" {
		ps, err := metrics.ServeProfiles(c.opts.Security, c.opts.PprofListen, c.logger)
		if err != nil {
			return err
		}
		defer ps.Close()
	}
	c.logger.Info("collector serving", "http", lis.Addr().String(), "meta_servers", c.opts.MetaServers,
		"detect_table", c.opts.DetectTable)

	var wg sync.WaitGroup
	wg.Go(func() { c.detector.Run(ctx) })
	wg.Go(func() { c.aggregator.Run(ctx) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		cancel()
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), shutdownTimeout)
	defer stop()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	c.logger.Info("collector stopped")
	return err
}
