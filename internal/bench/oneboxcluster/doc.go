// Package oneboxcluster lets fault scenarios act on a Pegasus onebox: it
// implements scenario.Cluster and every optional capability over
// internal/onebox, the meta server's admin RPCs and `pegasus
// rolling-update`.
//
// Crashes and restarts go through the onebox supervisor. A network cut is
// a freeze (SIGSTOP, then SIGCONT to heal): a replica server is known in
// partition configurations by the address it listens on, so a
// fault-injecting proxy cannot stand between it and its peers. The rolling
// update runs as `pegasus rolling-update --control onebox:<dir>`, the very
// command an operator runs, so the scenario measures the real procedure.
package oneboxcluster
