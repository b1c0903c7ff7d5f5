// Package bench drives load against a key-value target and judges what came
// back: throughput and latency (coordinated-omission aware), per-second
// availability, lost acknowledged writes, and linearizability.
//
// The pieces compose as follows:
//
//   - A Target is the store under test. The real cluster client is adapted to
//     it; tests use MemTarget or a faulty wrapper around it.
//   - A Workload chooses keys (uniform or zipfian), operation kinds and
//     values. Every written value carries a unique ValueID, so a read tells
//     exactly which write it observed.
//   - A Runner executes the workload in closed-loop mode (a fixed number of
//     workers, each issuing its next operation when the previous returns) or
//     open-loop mode (operations due at a fixed rate; latency is measured from
//     the time an operation was due, not from when it was sent). Every
//     operation is recorded in a per-worker history.
//   - After the load, the Runner reads back every written key
//     (CheckLostWrites) and checks the whole history per key against a
//     register model with porcupine (CheckLinearizability).
//   - A Report summarises it all as JSON, as a Pegasus-style text table and
//     as an SVG timeline.
//   - While a run goes on, a Meter feeds a live progress line, Annotate marks
//     event windows on the timeline, and Stop ends the load as planned (a
//     fault scenario stops it once the cluster has recovered). Window
//     summarises any slice of the history, such as the baseline before a
//     fault against the fault itself.
//
// The subpackages adapt real systems and drive faults: pegasustarget and
// etcdtarget are Targets over the Pegasus and etcd clients, scenario runs
// fault scenarios under load, and oneboxcluster and etcdcluster are the
// clusters those scenarios act on.
package bench
