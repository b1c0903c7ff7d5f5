package sim

import "github.com/pegasus-go/pegasus/internal/pacifica"

// The adapters: one place per concept where the simulation hands the code
// under test something that a fix may change the shape of. Adapting the
// simulation to a new core API means changing the function here and
// nothing else (see doc.go, "Plugging in a new core API").

// adaptLeaseClock is the time the replica server's lease and promise rules
// read (replica.Lease, the core's Step, Tick and New, ReadState.Check): the
// server's monotonic clock, as a pacifica.Time. The host's monotonic face
// never steps; a wall-clock step (clock.step) moves only what mutation
// timestamps read. Readings are positive, as the core requires.
func adaptLeaseClock(c *clock) pacifica.Time { return pacifica.Time(c.mono()) + 1 }

// adaptRecoverDedup restores a reopened replica's exactly-once state beyond
// what replica.RecoverCore rebuilt from the log. Today's server keeps none:
// the request-id table is the core's, rebuilt from the entries replayed
// past the durable decree, and the result cache starts empty. Dedup state
// persisted with the data (a field of replicaDisk beside store, written by
// replicaDisk.flush and install) is loaded here.
func adaptRecoverDedup(p *partition) {}

// adaptInstallDedup is what a checkpoint install does to the exactly-once
// state. Today's server empties the result cache (and the core empties its
// request-id table): a retry of a write applied before the checkpoint runs
// again. Dedup state shipped inside checkpoints is installed here.
func adaptInstallDedup(p *partition, c *checkpoint) { p.results.reset() }
