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
// what replica.RecoverCore rebuilt from the log: the store reopens with the
// request records it flushed (storage/requests.go), and the entries
// replayed past the durable decree write theirs again as they are applied.
// The core's in-flight table is rebuilt by RecoverCore.
func adaptRecoverDedup(p *partition) { p.reqs = p.d.reqs.clone() }

// adaptInstallDedup is what a checkpoint install does to the exactly-once
// state: the checkpoint carries the primary's request records with its
// data, so the learner answers retries of every request applied before the
// checkpoint as the primary would (the core empties its in-flight table).
func adaptInstallDedup(p *partition, c *checkpoint) { p.reqs = c.reqs.clone() }
