package main

import "github.com/spf13/pflag"

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
