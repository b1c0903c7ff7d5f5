// Package plan is the pure core of `pegasus rolling-update`: it turns a
// cluster snapshot into an ordered plan of steps and executes that plan as
// a state machine, deterministically, without goroutines, I/O or a clock.
// A driver (internal/rolling) owns all of those: it runs the actions the
// machine returns against the cluster (shell and meta RPCs, node control
// through onebox or exec templates), feeds back what it observed, and
// stores the machine's State in etcd after every call.
//
// # Using it
//
//	p, err := plan.Build(snapshot, options) // refuses unsafe starts; p.String() is the dry run
//	m := plan.NewMachine(p)
//	var obs plan.Observation
//	for !m.Status().Terminal() {
//		actions := m.Next(clock.Now(), obs)
//		store(m.State())                 // JSON; plan.Restore(state) resumes
//		obs = execute(actions)           // commands -> obs.Results, queries -> views
//		sleep(pollInterval)
//	}
//	fmt.Print(m.Report().Text())
//
// Operator commands go through m.Pause, m.Resume and m.Abort at any time
// between calls to Next.
//
// # What it improves on the Pegasus scripts
//
// Pegasus' pegasus_rolling_update.sh sleeps fixed times, greps shell text,
// and carries on when a wait times out (about 30 s for migrate_node, 90 s
// for downgrade_node), then waits for health with no timeout at all. Here
// every wait is a gate on structured state with a timeout of base plus a
// per-partition allowance; a gate that times out fails the roll with the
// last thing it saw, and the roll then undoes its changes. Meta servers are
// not given a blind 30 s: each waits until it is up and the leader hears
// beacons from every replica server. The collector's availability pauses the roll while it is
// below a threshold. And the whole progress is one JSON document, so a new
// orchestrator resumes where a dead one stopped.
//
// # Resuming
//
// Restore re-issues the current step (its command may or may not have run)
// with a fresh timeout. That is safe because every command is idempotent;
// ActionKind documents why each one is. Gates never trust an observation
// taken before the step's attempt was emitted, so a stale view cannot
// complete a step.
package plan
