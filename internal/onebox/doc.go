// Package onebox runs a whole cluster on one machine for development,
// tests, demos and benchmarks, every role as its own OS process started
// from the pegasus binary: one embedded etcd member (pegasus etcd), the
// meta servers, the replica servers and optionally a collector.
//
// A onebox is a directory:
//
//	onebox.json     the state: every process's role, addresses, binary,
//	                arguments and last PID
//	meta_servers    the meta servers' gRPC addresses, comma separated,
//	                read by the shell and other tools by default
//	etcd/           etcd's data and log
//	meta1/ ...      per process: config.toml, data/, <name>.log
//
// Ports are picked once, when the onebox is created, and kept in
// onebox.json, so that stopping and starting the onebox (or one process of
// it) brings back the same cluster at the same addresses: partition
// configurations in etcd name replica servers by address. Processes run
// detached in their own process groups and outlive the command or test that
// started them; every operation reads onebox.json, so one command may start
// a onebox and later ones inspect, kill, restart or stop its processes.
//
// By default every process listens on 127.0.0.1. In the netns network
// mode (Options.Network, Linux and root only, with iproute2's ip) each
// replica server runs in its own network namespace, joined to a host
// bridge by a veth pair and listening on its own address of a private
// /24; etcd, the meta servers and the collector listen on the bridge's
// address. Cut and Heal then take a replica server off the network and
// back while it keeps running. The names of the bridge, veths and
// namespaces carry a hash of the onebox directory; they are created on
// start and removed on stop.
//
// The package is Unix-only: it relies on process groups and signals, and
// on Linux on /proc to tell its processes from unrelated ones that reused
// a PID.
package onebox
