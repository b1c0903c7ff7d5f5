package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/logging"
	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/pegasusserve"
)

// metaStopTimeout bounds a graceful stop: resign, then drain RPCs.
const metaStopTimeout = 10 * time.Second

// metaMaxFrameBytes bounds a request frame on a meta server's Pegasus
// port: it only answers configuration queries, a few dozen bytes each.
const metaMaxFrameBytes = 64 << 10

func init() {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Run a meta server: tables, partition configuration, failure detection",
		Long: `Runs a meta server. Meta servers keep the table catalogue and every partition's
configuration in etcd under /<cluster_name>/, elect one leader among themselves through etcd,
detect failed replica servers from their beacons and reconfigure partitions.

With no etcd endpoints it starts an embedded single-node etcd in <data_dir>/etcd; a production
cluster runs several meta servers pointed at a real etcd cluster with --etcd-endpoints.
Flags override the configuration file. SIGTERM stops gracefully: the leader resigns first so
that another meta server takes over at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.DefaultMeta()
			if err := config.Load(cfgPath, &cfg); err != nil {
				return err
			}
			if err := overrideFromFlags(cmd.Flags(), logFlagFields(&cfg.Log, serverSecurityFields(&cfg.Security, map[string]any{
				"listen":         &cfg.Listen,
				"http-listen":    &cfg.HTTPListen,
				"pegasus-listen": &cfg.PegasusListen,
				"data-dir":       &cfg.DataDir,
				"cluster-name":   &cfg.ClusterName,
				"etcd-endpoints": &cfg.EtcdEndpoints,
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
			m := metrics.NewMeta()
			srv, err := meta.NewServer(meta.Options{
				Config:   cfg,
				Logger:   log,
				Metrics:  m,
				Security: sec,
			})
			if err != nil {
				return err
			}
			srv.Handle("GET /metrics", m.Handler())
			if err := srv.Start(cmd.Context()); err != nil {
				return fmt.Errorf("meta: %w", err)
			}
			if cfg.PegasusListen != "" {
				// Official Pegasus clients query partition configurations here.
				pl, err := pegasusserve.StartMetaListener(cmd.Context(), cfg.PegasusListen, cfg.Listen, pegasusserve.StartOptions{
					Guard: sec.Guard("pegasus", sec.RawIdleTimeout()),
					Config: pegasusserve.Config{MaxBodySize: metaMaxFrameBytes,
						DropTimedOutRequests: cfg.RPCRequestDroppedBeforeExecutionWhenTimeout},
					Credentials: dial.Credentials{TLS: sec.ClientTLS()},
				})
				if err != nil {
					return err
				}
				defer pl.Close()
			}
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), metaStopTimeout)
			defer cancel()
			return srv.Stop(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "TOML configuration file (see docs/configuration.md)")
	f.String("listen", "", "gRPC address for replica servers, clients and the shell (overrides listen)")
	f.String("http-listen", "", "HTTP address of the JSON API and /metrics (overrides http_listen)")
	f.String("pegasus-listen", "", "address of the Apache Pegasus protocol listener (overrides pegasus_listen)")
	f.String("data-dir", "", "directory of the embedded etcd and the server's files (overrides data_dir)")
	f.String("cluster-name", "", "cluster name, the prefix of every etcd key (overrides cluster_name)")
	f.StringSlice("etcd-endpoints", nil, "external etcd endpoints, comma separated (overrides etcd_endpoints; empty starts an embedded etcd)")
	serverSecurityFlags(f)
	addLogFlags(f)
	root.AddCommand(cmd)
}
