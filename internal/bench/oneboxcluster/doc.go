// Package oneboxcluster lets fault scenarios act on a Pegasus onebox: it
// implements scenario.Cluster and every optional capability over
// internal/onebox, the meta server's admin RPCs and `pegasus
// rolling-update`.
//
// Crashes and restarts go through the onebox supervisor. In the onebox's
// netns network mode a network cut is real: the host end of the replica
// server's veth goes down and comes back up to heal. On loopback it is a
// freeze (SIGSTOP, then SIGCONT): a replica server is known in partition
// configurations by the address it listens on, so a fault-injecting proxy
// cannot stand between it and its peers. The rolling
// update runs as `pegasus rolling-update --control onebox:<dir>`, the very
// command an operator runs, so the scenario measures the real procedure.
package oneboxcluster
