package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/redisproxy"
)

func init() {
	var (
		metas       string
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
otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table == "" {
				return errors.New("redis-proxy: --table is required")
			}
			metaList := strings.FieldsFunc(metas, func(r rune) bool { return r == ',' || r == ' ' })
			if len(metaList) == 0 {
				return errors.New("redis-proxy: --meta lists no meta server")
			}
			ctx := cmd.Context()
			c, err := client.New(ctx, client.Config{MetaServers: metaList, OperationTimeout: timeout})
			if err != nil {
				return fmt.Errorf("redis-proxy: connecting to %s: %w", metas, err)
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
			slog.Info("redis proxy serving", "listen", ln.Addr().String(), "table", table, "meta", metas)
			err = srv.Serve(ctx, ln)
			slog.Info("redis proxy stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&metas, "meta", redisProxyDefaultMeta(), "meta servers, comma separated host:port; defaults to the list in ./onebox/meta_servers when present")
	f.StringVar(&table, "table", "", "table to serve (required)")
	f.StringVar(&listen, "listen", "127.0.0.1:6379", "address to serve Redis clients on")
	f.DurationVar(&timeout, "timeout", redisproxy.DefaultCommandTimeout, "deadline of each command, retries included")
	f.IntVar(&concurrency, "pipeline-concurrency", redisproxy.DefaultPipelineConcurrency,
		"commands of one connection's pipeline run at once (same-key commands stay in order); 1 = one by one")
	root.AddCommand(cmd)
}

// redisProxyDefaultMeta is the meta list a local onebox wrote, so that the proxy
// finds a local cluster without flags; otherwise Pegasus' default meta port
// on this host.
func redisProxyDefaultMeta() string {
	if b, err := os.ReadFile("onebox/meta_servers"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	return "127.0.0.1:34601"
}
