package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/netguard"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/redisproxy"
	"github.com/pegasus-go/pegasus/internal/security"
)

func init() {
	var (
		endpoints   onebox.Endpoints
		table       string
		listen      string
		timeout     time.Duration
		concurrency int
		tlsFiles    security.Files
		tlsRequire  bool
		passFile    string
		maxConns    int
		idle        time.Duration
		bufferedMB  int
	)
	cmd := &cobra.Command{
		Use:   "redis-proxy",
		Short: "Serve one table over the Redis protocol",
		Long: `Serves one Pegasus table to Redis clients (RESP2), as Apache Pegasus' Redis
proxy does: a Redis key is a Pegasus hash key with an empty sort key.

Commands: GET, SET [NX|XX] [EX|PX], SETEX, MGET, MSET, DEL, EXISTS, TTL, PTTL,
EXPIRE, INCR, INCRBY, DECR, DECRBY, PING, ECHO, SELECT 0, HELLO 2, INFO, COMMAND,
CONFIG GET, QUIT, AUTH. The proxy keeps no state: run as many as needed behind a
load balancer.

With --requirepass-file clients must AUTH first (as Redis' requirepass). With
--tls-ca/--tls-cert/--tls-key the proxy serves TLS (clients need a certificate of the
authority; --tls-require refuses plaintext) and reaches the cluster with the same
certificate. Without a password it listens on loopback unless told otherwise.

` + endpointsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table == "" {
				return errors.New("redis-proxy: --table is required")
			}
			metaList, _, err := endpoints.MetaServers()
			if err != nil {
				return fmt.Errorf("redis-proxy: %w", err)
			}
			ctx := cmd.Context()
			var guard netguard.Config
			var clientTLS *tls.Config
			if tlsFiles.Configured() {
				id, err := security.LoadTLS(tlsFiles, slog.Default())
				if err != nil {
					return err
				}
				guard.TLS, guard.RequireTLS, clientTLS = id.ServerConfig(), tlsRequire, id.ClientConfig()
			} else if tlsRequire {
				return errors.New("redis-proxy: --tls-require needs --tls-ca, --tls-cert and --tls-key")
			}
			password := ""
			if passFile != "" {
				p, err := security.ReadTokenFile(passFile)
				if err != nil {
					return fmt.Errorf("redis-proxy: --requirepass-file: %w", err)
				}
				password = p
			}
			c, err := client.New(ctx, client.Config{MetaServers: metaList, OperationTimeout: timeout, TLS: clientTLS})
			if err != nil {
				return fmt.Errorf("redis-proxy: connecting to %s: %w", strings.Join(metaList, ","), err)
			}
			defer c.Close()
			t, err := c.Open(ctx, table)
			if err != nil {
				return fmt.Errorf("redis-proxy: opening table %q: %w", table, err)
			}
			srv, err := redisproxy.New(redisproxy.NewTableBackend(t), redisproxy.Config{
				Table:               table,
				MetaServers:         metaList,
				CommandTimeout:      timeout,
				PipelineConcurrency: concurrency,
				MaxBufferedBytes:    int64(bufferedMB) << 20,
				Password:            password,
			})
			if err != nil {
				return err
			}
			guard.Name, guard.MaxConns, guard.IdleTimeout = "redis", maxConns, idle
			ln, err := netguard.Listen(listen, guard)
			if err != nil {
				return fmt.Errorf("redis-proxy: %w", err)
			}
			slog.Info("redis proxy serving", "listen", ln.Addr().String(), "table", table, "meta", metaList)
			err = srv.Serve(ctx, ln)
			slog.Info("redis proxy stopped")
			return err
		},
	}
	f := cmd.Flags()
	addEndpointFlags(f, &endpoints)
	f.StringVar(&table, "table", "", "table to serve (required)")
	f.StringVar(&listen, "listen", "127.0.0.1:6379", "address to serve Redis clients on")
	f.DurationVar(&timeout, "timeout", redisproxy.DefaultCommandTimeout, "deadline of each command, retries included")
	f.IntVar(&concurrency, "pipeline-concurrency", redisproxy.DefaultPipelineConcurrency,
		"commands of one connection's pipeline run at once (same-key commands stay in order); 1 = one by one")
	f.StringVar(&passFile, "requirepass-file", "", "file holding the password clients must AUTH with (its first line, without spaces)")
	f.StringVar(&tlsFiles.CA, "tls-ca", "", "PEM certificate authority: serve mutual TLS and reach the cluster over it")
	f.StringVar(&tlsFiles.Cert, "tls-cert", "", "PEM certificate of the proxy (role proxy)")
	f.StringVar(&tlsFiles.Key, "tls-key", "", "PEM key of --tls-cert")
	f.BoolVar(&tlsRequire, "tls-require", false, "refuse plaintext clients")
	f.IntVar(&maxConns, "max-connections", 0, "open client connections at most; more are closed as they arrive (0: 4096, or an eighth of the descriptor limit)")
	f.DurationVar(&idle, "idle-timeout", netguard.DefaultIdleTimeout, "close a client connection silent this long (0: never)")
	f.IntVar(&bufferedMB, "max-buffered-mb", netguard.DefaultBudgetBytes>>20, "request bytes buffered at once across all connections")
	root.AddCommand(cmd)
}
