package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/embedetcd"
)

func init() {
	var (
		cfg embedetcd.Config
		tls embedetcd.TLSFiles
	)
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run an embedded etcd member (the metadata store of a onebox or test cluster)",
		Long: `Runs one etcd member inside this binary, so a local cluster needs nothing installed.
Production clusters use a real etcd cluster and give its endpoints to the meta servers
with --etcd-endpoints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tls != (embedetcd.TLSFiles{}) {
				cfg.TLS = &tls
			}
			s, err := embedetcd.Start(cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			slog.Info("etcd serving", "name", cfg.Name, "client_url", cfg.ClientURL, "dir", cfg.Dir)
			select {
			case <-cmd.Context().Done():
				slog.Info("etcd stopping")
				return nil
			case err := <-s.Err():
				return fmt.Errorf("etcd: %w", err)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "default", "member name")
	f.StringVar(&cfg.Dir, "data-dir", "./data/etcd", "data directory")
	f.StringVar(&cfg.ClientURL, "client-url", "http://127.0.0.1:2379", "client URL to listen on and advertise")
	f.StringVar(&cfg.PeerURL, "peer-url", "http://127.0.0.1:2380", "peer URL to listen on and advertise")
	f.StringVar(&cfg.InitialCluster, "initial-cluster", "", "name=peerURL,... for a multi-member cluster (empty: single member)")
	f.StringVar(&tls.CAFile, "tls-ca", "", "PEM certificate authority: with --tls-cert and --tls-key, clients and peers need a certificate of it (the URLs must be https)")
	f.StringVar(&tls.CertFile, "tls-cert", "", "PEM certificate of this member")
	f.StringVar(&tls.KeyFile, "tls-key", "", "PEM key of --tls-cert")
	root.AddCommand(cmd)
}
