package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/version"
)

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, git commit, build time, protocol version and on-disk formats",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return version.Write(cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
	// pegasus --version
	root.Version = version.String()
	root.SetVersionTemplate(fmt.Sprintln("{{.Version}}"))
}
