package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/shell"
)

func init() {
	var (
		endpoints onebox.Endpoints
		asJSON    bool
		script    string
		creds     security.ClientFiles
	)
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Pegasus-style admin and data shell",
		Long: `The Pegasus shell: cluster_info, nodes -d, ls -d, app <table> -d, create, drop,
set_meta_level, remote_command, migrate_node, downgrade_node, and data commands
(use <table>, set, get, del, exist, ttl, incr, check_and_set, multi_set,
multi_get, multi_del, count, scan, hash_scan, full_scan, count_data), each with
--json. Type help inside.

Without -e it reads commands interactively (with history and line editing), or
one per line from a pipe. With -e it runs the ';'-separated commands and stops at
the first that fails. From a pipe it goes on after a failing command, as Pegasus'
shell does, reports each error on stderr and exits non-zero at the end. Exit
status: see 'pegasus help exit-codes'.

` + endpointsHelp + `
Admin commands need an admin credential: --token-file (or $` + security.EnvTokenFile + `), or an admin
certificate with --tls-ca/--tls-cert/--tls-key; next to a onebox its own are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, from, err := endpoints.MetaServers()
			if err != nil {
				return err
			}
			credentials, err := clientCredentials(creds, endpointsOnebox(endpoints, from))
			if err != nil {
				return err
			}
			sh, err := shell.New(shell.Config{MetaServers: list, JSON: asJSON, Out: cmd.OutOrStdout(), Credentials: credentials})
			if err != nil {
				return err
			}
			defer sh.Close()
			switch {
			case cmd.Flags().Changed("exec"):
				return sh.RunScript(cmd.Context(), script)
			case shell.IsTerminal(os.Stdin):
				return sh.Interactive(cmd.Context(), os.Stdin, cmd.ErrOrStderr())
			default:
				return sh.RunReader(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr())
			}
		},
	}
	f := cmd.Flags()
	addEndpointFlags(f, &endpoints)
	f.BoolVar(&asJSON, "json", false, "print JSON from every command that has a JSON form")
	f.StringVarP(&script, "exec", "e", "", "run these ';'-separated commands and exit")
	clientFlags(f, &creds)
	root.AddCommand(cmd)
}
