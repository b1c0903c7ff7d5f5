package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/collector"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/logging"
	"github.com/pegasus-go/pegasus/internal/security"
)

func init() {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Run the collector: availability detector, metrics aggregation and the cluster page",
		Long: `Runs the collector. It creates the detection table if missing, writes and reads a probe
record on every partition every available_detect_interval_seconds, and serves the cluster
page, the availability JSON (/api/availability?window=10s) and /metrics on --http-listen.
Flags override the configuration file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.DefaultCollector()
			if err := config.Load(cfgPath, &cfg); err != nil {
				return err
			}
			if err := overrideFromFlags(cmd.Flags(), logFlagFields(&cfg.Log, serverSecurityFields(&cfg.Security, map[string]any{
				"meta":        &cfg.MetaServers,
				"http-listen": &cfg.HTTPListen,
				"token-file":  &cfg.TokenFile,
			}))); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			opts := collector.OptionsFromConfig(cfg)
			logger, err := logging.Setup(cfg.Log, os.Stderr, "role", "collector", "node", cfg.HTTPListen)
			if err != nil {
				return err
			}
			opts.Logger = logger
			sec, err := serverSecurity(cfg.Security, config.Limits{}, "", opts.Logger)
			if err != nil {
				return err
			}
			defer sec.Close()
			opts.Security = sec
			opts.Credentials.TLS = sec.ClientTLS()
			if cfg.TokenFile != "" {
				if opts.Credentials.Token, err = security.ReadTokenFile(cfg.TokenFile); err != nil {
					return err
				}
			}
			c, err := collector.New(opts)
			if err != nil {
				return err
			}
			return c.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "TOML configuration file (see docs/configuration.md)")
	f.StringSlice("meta", nil, "meta servers, comma separated host:port (overrides meta_servers)")
	f.String("http-listen", "", "HTTP address of the page, the JSON API and /metrics (overrides http_listen)")
	f.String("token-file", "", "admin token the collector presents to create its detection table (overrides token_file)")
	serverSecurityFlags(f)
	addLogFlags(f)
	root.AddCommand(cmd)
}
