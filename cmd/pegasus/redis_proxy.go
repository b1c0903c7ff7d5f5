package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/redisproxy"
)

func init() {
	var (
		endpoints   onebox.Endpoints
		table       string
		listen      string
		timeout     time.Duration
		concurrency int
	)
	cmd := &cobra.Command{
		Use:   "redis-proxy",
		Short: "Serve one table over the Redis protocol",
		Long: `Serves one Pegasus table to Redis clients (RESP2), as Apache Pegasus' Redis
proxy does: a Redis key is a Pegasus hash key with an empty sort key.

Commands: GET, SET [NX|XX] [EX|PX], SETEX, MGET, MSET, DEL, EXISTS, TTL, PTTL,
EXPIRE, INCR, INCRBY, DECR, DECRBY, PING, ECHO, SELECT 0, HELLO 2, INFO, COMMAND,
CONFIG GET, QUIT. The proxy keeps no state: run as many as needed behind a load
balancer. It has no authentication, so it listens on loopback unless told
otherwise.

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
			c, err := client.New(ctx, client.Config{MetaServers: metaList, OperationTimeout: timeout})
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
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
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
	root.AddCommand(cmd)
}
