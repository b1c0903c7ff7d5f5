// Package scenario runs fault scenarios under load: it starts a benchmark
// load against a cluster, lets the load settle into a baseline, injects one
// event (a rolling restart, a crash, a frozen primary, repeated crashes
// during heavy writes), waits until the cluster is fully healthy again,
// keeps the load going a little longer, stops it, and reports what the
// clients saw: failed operations, the longest stall, p99.9 latency during
// the event against the baseline before it, how long the cluster took to
// become fully healthy, the linearizability verdict and the acknowledged
// writes lost.
//
// A scenario is a small function over Cluster, the narrow interface through
// which it acts on the system under test, plus optional capabilities
// (NetworkCutter, Freezer, LeaderFinder, PrimaryFinder, Roller) for the scenarios that
// need them. The same scenario runs against a Pegasus onebox, against a
// three-member etcd cluster for comparison, and against an in-memory fake
// in unit tests.
//
// The timeline of a run:
//
//	0 ........ baseline ........ event start
//	           [event steps, each annotated on the timeline plot]
//	           repaired (the event's last action returned)
//	           [wait until fully healthy]           -> event end
//	           tail: the load continues for Options.Tail, and at least
//	           until Options.Load.Duration, then stops; checks run.
package scenario
