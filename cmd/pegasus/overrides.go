package main

import (
	"github.com/spf13/pflag"

	"github.com/pegasus-go/pegasus/internal/config"
)

// overrideFromFlags copies every flag the user gave on the command line into
// the configuration field it is bound to, so that flags win over the file and
// absent flags leave the file's (or the default) value alone.
func overrideFromFlags(f *pflag.FlagSet, fields map[string]any) error {
	for name, dst := range fields {
		if !f.Changed(name) {
			continue
		}
		var err error
		switch d := dst.(type) {
		case *string:
			*d, err = f.GetString(name)
		case *[]string:
			*d, err = f.GetStringSlice(name)
		case *bool:
			*d, err = f.GetBool(name)
		default:
			panic("overrideFromFlags: unsupported field type for --" + name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addLogFlags registers the log flags every server role takes.
func addLogFlags(f *pflag.FlagSet) {
	f.String("log-level", "", "debug, info, warn or error (overrides log_level)")
	f.String("log-format", "", "text or json (overrides log_format)")
	f.String("log-file", "", "log to this file, rotated by size, instead of stderr (overrides log_file)")
}

// logFlagFields binds the log flags to a role's configuration.
func logFlagFields(l *config.Log, fields map[string]any) map[string]any {
	fields["log-level"] = &l.Level
	fields["log-format"] = &l.Format
	fields["log-file"] = &l.File
	return fields
}
