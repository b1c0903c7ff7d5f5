package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/version"
)

func init() {
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, git commit and protocol version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "version:  %s\ncommit:   %s\nprotocol: %s\n",
				version.Release(), version.Commit(), version.Current())
			return nil
		},
	})
}
