package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/shell"
)

func init() {
	var (
		metas  string
		asJSON bool
		script string
		creds  security.ClientFiles
	)
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Pegasus-style admin and data shell",
		Long: `The Pegasus shell: cluster_info, nodes -d, ls -d, app <table> -d, create, drop,
set_meta_level, remote_command, migrate_node, downgrade_node, and data commands
(use <table>, set, get, del, exist, ttl, multi_get, scan). Type help inside.

Without -e it reads commands interactively (with history and line editing), or
one per line from a pipe. With -e it runs the ';'-separated commands and exits
with a non-zero status at the first that fails.

Without --meta it uses ./` + shell.OneboxMetaServersFile + ` if present, else ` + shell.DefaultMeta + `.
Admin commands need an admin credential: --token-file (or ` + security.EnvTokenFile + `), or an admin
certificate with --tls-ca/--tls-cert/--tls-key; next to a onebox its own are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list := shell.DefaultMetaServers()
			if metas != "" {
				list = strings.Split(metas, ",")
			}
			dir := ""
			if metas == "" {
				dir = shell.OneboxDir
			}
			credentials, err := clientCredentials(creds, dir)
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
				return sh.RunReader(cmd.Context(), cmd.InOrStdin())
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&metas, "meta", "", "meta servers, comma separated")
	f.BoolVar(&asJSON, "json", false, "print JSON from every command that has a JSON form")
	f.StringVarP(&script, "exec", "e", "", "run these ';'-separated commands and exit")
	clientFlags(f, &creds)
	root.AddCommand(cmd)
}
