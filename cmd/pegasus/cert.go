package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/security"
)

func init() {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Make a cluster's certificate authority, certificates and admin tokens",
		Long: `Makes what mutual TLS and admin authentication need (docs/security.md):

  pegasus cert ca    --dir certs                       an authority: certs/ca.pem, certs/ca-key.pem
  pegasus cert issue --dir certs --name replica1 --role replica --node 10.0.0.5:34801
                                                       certs/replica1.pem, certs/replica1-key.pem
  pegasus cert token --out admin_token                 a random admin token

A certificate's role is one of ` + fmt.Sprint(security.Roles) + `; a meta or replica server's
--node is its listen address (its identity in the cluster), and its host names go in with
--host. Issuing again under the same name replaces the pair: servers pick new files up at
their next handshake, so certificates rotate without a restart. Keys are written with mode
0600; keep ca-key.pem off the servers. 'pegasus onebox start --tls' does all of this for a
local cluster.`,
	}

	var (
		dir, name string
		validity  time.Duration
	)
	ca := &cobra.Command{
		Use:   "ca",
		Short: "Make a new certificate authority",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := security.CreateCA(dir, name, validity)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "authority %q in %s (%s, valid until %s)\n", name, dir,
				filepath.Join(dir, security.CAFile), a.Cert.NotAfter.Format(time.DateOnly))
			return nil
		},
	}
	ca.Flags().StringVar(&dir, "dir", "certs", "directory of the authority")
	ca.Flags().StringVar(&name, "name", "pegasus", "name of the authority")
	ca.Flags().DurationVar(&validity, "validity", security.DefaultCAValidity, "how long the authority is valid")

	var req security.CertRequest
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Issue (or renew) a certificate signed by the authority of --dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := security.LoadCA(dir)
			if err != nil {
				return err
			}
			req.Validity = validity
			certPath, keyPath, err := a.Issue(req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s certificate %s: %s, %s\n", req.Role, req.Name, certPath, keyPath)
			return nil
		},
	}
	issue.Flags().StringVar(&dir, "dir", "certs", "directory of the authority; the certificate is written there")
	issue.Flags().StringVar(&req.Name, "name", "", "name of the certificate (its common name and file name)")
	issue.Flags().StringVar(&req.Role, "role", "", "role of the holder: meta, replica, collector, proxy, client or admin")
	issue.Flags().StringSliceVar(&req.Nodes, "node", nil, "node identity the holder speaks for: a meta or replica server's listen address (repeatable)")
	issue.Flags().StringSliceVar(&req.Hosts, "host", nil, "host name or IP address the holder is dialled at (repeatable; the hosts of --node are added)")
	issue.Flags().DurationVar(&validity, "validity", security.DefaultCertValidity, "how long the certificate is valid")
	_ = issue.MarkFlagRequired("name")
	_ = issue.MarkFlagRequired("role")

	var out string
	token := &cobra.Command{
		Use:   "token",
		Short: "Write a new random admin token to a file (mode 0600)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := security.WriteTokenFile(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "admin token written to %s: add its line to the servers' admin_tokens_file, pass the file with --token-file\n", out)
			return nil
		},
	}
	token.Flags().StringVar(&out, "out", "admin_token", "file to write")

	cmd.AddCommand(ca, issue, token)
	root.AddCommand(cmd)
}
