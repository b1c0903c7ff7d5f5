package sim

import (
	"time"
)

// The adapters: one place per concept where the simulation hands the code
// under test something that a fix may change the shape of. Adapting the
// simulation to a new core API means changing the function here and
// nothing else (see doc.go, "Plugging in a new core API").

// adaptLeaseClock is the time the replica server's lease rules read
// (replica.Lease.Extend's send time and Valid's now). Today's server
// compares wall-clock Unix nanoseconds, so the simulation hands it the
// host's wall face, which a clock step moves. A lease on the monotonic
// clock reads c.monoTime() (or takes a duration) instead.
func adaptLeaseClock(c *clock) time.Time { return c.wall() }

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
