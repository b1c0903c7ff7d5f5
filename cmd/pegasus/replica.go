package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/logging"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/netguard"
	"github.com/pegasus-go/pegasus/internal/pegasusserve"
	"github.com/pegasus-go/pegasus/internal/replica"
)

func init() {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "replica",
		Short: "Run a replica server: serves partitions, PacificA replication",
		Long: `Runs a replica server. It hosts partition replicas under <data_dir>/<app_id>.<pidx>/, each
with its mutation log (plog/) and Pebble store (data/); serves clients, peers and the meta
servers on --listen (also the node's identity in partition configurations); and sends a beacon
to the meta leader every fd_beacon_interval_seconds. It serves only while its lease from the
last accepted beacon holds.

On start every replica found in data_dir is opened and replays its log past its store's durable
decree, then waits inactive for the meta server's configuration. /status, /healthz and the
Prometheus /metrics are served on --http-listen. Flags override the configuration file. SIGTERM stops gracefully: stores are
flushed, so the next start replays nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.DefaultReplica()
			if err := config.Load(cfgPath, &cfg); err != nil {
				return err
			}
			if err := overrideFromFlags(cmd.Flags(), logFlagFields(&cfg.Log, serverSecurityFields(&cfg.Security, map[string]any{
				"listen":         &cfg.Listen,
				"http-listen":    &cfg.HTTPListen,
				"pegasus-listen": &cfg.PegasusListen,
				"data-dir":       &cfg.DataDir,
				"meta":           &cfg.MetaServers,
			}))); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := logging.Setup(cfg.Log, os.Stderr)
			if err != nil {
				return err
			}
			sec, err := serverSecurity(cfg.Security, cfg.Limits, cfg.DataDir, log)
			if err != nil {
				return err
			}
			defer sec.Close()
			m := metrics.NewReplica()
			srv, err := replica.New(cfg, replica.Options{
				Logger:         log,
				Metrics:        m,
				MetricsHandler: m.Handler(),
				Security:       sec,
			})
			if err != nil {
				return err
			}
			if cfg.PegasusListen != "" {
				// Official Pegasus clients reach the same replicas through
				// this listener, translated onto the server's own RPCs.
				pl, err := pegasusserve.StartReplicaListener(cmd.Context(), cfg.PegasusListen, cfg.Listen, pegasusserve.StartOptions{
					Guard: sec.Guard("pegasus", sec.RawIdleTimeout()),
					Config: pegasusserve.Config{
						MaxBodySize:          cfg.MaxRequestFrameBytes(),
						Budget:               netguard.NewBudget(int64(cfg.MaxBufferedRequestMB) << 20),
						DropTimedOutRequests: cfg.RPCRequestDroppedBeforeExecutionWhenTimeout,
					},
					Credentials: dial.Credentials{TLS: sec.ClientTLS()},
				})
				if err != nil {
					return err
				}
				defer pl.Close()
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "TOML configuration file (see docs/configuration.md)")
	f.String("listen", "", "gRPC address for clients, peers and the meta servers; the node's identity (overrides listen)")
	f.String("http-listen", "", "HTTP address of /status, /healthz and /metrics (overrides http_listen; empty disables)")
	f.String("pegasus-listen", "", "address of the Apache Pegasus protocol listener, reported to the meta servers (overrides pegasus_listen)")
	f.String("data-dir", "", "directory of every partition replica (overrides data_dir)")
	f.StringSlice("meta", nil, "meta server addresses, comma separated (overrides meta_servers)")
	serverSecurityFlags(f)
	addLogFlags(f)
	root.AddCommand(cmd)
}
