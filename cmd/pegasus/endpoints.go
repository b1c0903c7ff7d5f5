package main

import (
	"github.com/spf13/pflag"

	"github.com/pegasus-go/pegasus/internal/onebox"
)

// endpointsHelp says where a client command finds the cluster; every
// command that takes --meta and --onebox repeats it in its help.
const endpointsHelp = `Meta servers, first match wins: --meta; --onebox DIR (its meta_servers file);
$` + onebox.MetaServersEnv + ` (comma separated); ./onebox/meta_servers; ` + onebox.DefaultMetaServer + `.`

// addEndpointFlags registers --meta and --onebox into e.
func addEndpointFlags(f *pflag.FlagSet, e *onebox.Endpoints) {
	f.StringSliceVar(&e.Meta, "meta", nil, "meta servers, comma separated host:port (default: see below)")
	f.StringVar(&e.OneboxDir, "onebox", "", "use the meta servers of the onebox in this directory")
}
