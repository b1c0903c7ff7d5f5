// Package rolling drives `pegasus rolling-update`: it runs the pure
// planner and state machine of package plan against a live cluster.
//
// The machine decides; this package only acts and looks. One Orchestrator
// loop calls Machine.Next, persists the machine's State in etcd whenever it
// changed (before running anything the new state asked for, so a stored
// state never lags behind what was done), runs the returned actions each
// under a timeout, and gathers the observation the next call needs:
//
//	commands  set_meta_level, remote commands, migrate_node, downgrade_node
//	          and replica.kill_partition go to the meta leader or the replica
//	          server through Cluster; stop, start and install go to the node's
//	          process manager through NodeControl
//	queries   nodes -d and ls -d, each meta server's cluster_info, a replica
//	          server's own status (Cluster), the collector's availability
//	          (Collector)
//
// Every side effect sits behind one of those three narrow interfaces, and
// the state store behind Store, so the loop is tested against in-memory
// fakes and the same code runs against a onebox or a production cluster.
//
// # Node control
//
// NodeControl has two implementations: OneboxControl drives a local cluster
// supervised by internal/onebox, and ExecControl runs operator-supplied
// command templates (systemd over ssh, an in-house deployment tool). Both
// treat "already stopped" and "already running" as success and return only
// once the process state is confirmed, because the machine completes a stop
// or start step on the command's acknowledgement alone and re-issues it
// freely after a crash.
//
// # One orchestrator at a time
//
// The roll's progress lives at /<cluster>/rolling/state and an orchestrator
// holds /<cluster>/rolling/lock, a key bound to an etcd lease it keeps
// alive. A second orchestrator is refused with the holder's identity; one
// that was killed loses the lock when its lease expires, and `resume` takes
// over from the stored state. Every state write is fenced on the lock
// (a transaction comparing the lock key's lease), so an orchestrator that
// lost its lease can never overwrite a successor's progress. Operators
// pause, resume or abort a running roll from another terminal by writing
// /<cluster>/rolling/request, which the holder watches and consumes.
package rolling
