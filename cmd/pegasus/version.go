package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/version"
)

func init() {
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, git commit, protocol version and on-disk formats",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "version:  %s\ncommit:   %s\nprotocol: %s\n",
				version.Release(), version.Commit(), version.Current())
			for _, f := range version.Formats() {
				fmt.Fprintf(out, "format:   %s\n", f)
			}
			return nil
		},
	})
}
