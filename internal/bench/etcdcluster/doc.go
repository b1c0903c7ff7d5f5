// Package etcdcluster runs a small etcd cluster of separate `pegasus etcd`
// processes (one embedded etcd member each, joined with --initial-cluster)
// and lets fault scenarios act on it through scenario.Cluster: the
// reference against which Pegasus' rolling restart is measured.
//
// Every member lives in its own directory under the cluster's directory,
// with its data and its log, and runs in its own process group. A member
// stopped and started again comes back at the same addresses with its
// data, as a restarted etcd member must.
package etcdcluster
