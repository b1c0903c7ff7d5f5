package sim

import "time"

// Script is a scripted fault schedule: the regression schedules of
// scripts.go replay a known hole step by step instead of waiting for a
// random seed to stumble on it. The cluster's shape may be fixed too; the
// rest of the run (timings, network jitter, workload) still comes from the
// seed.
type Script struct {
	Name string
	// Shape, when non-zero, fixes the cluster: replica servers, partitions,
	// replicas per partition, clients.
	Nodes, Partitions, Replicas, Clients int
	// Readers is how many clients only read registers.
	Readers int
	// Options adjusts the drawn options further (timeouts, durations).
	Options func(o *Options)
	// Steps run at their times (from the start of the run).
	Steps []Step
	// Available, when set, also requires every operation to succeed: no
	// failed and no unknown outcome (an availability promise).
	Available bool
	// LoadEnd, when set, is when clients stop issuing operations;
	// FinalAfter the earliest time the final reads start. Steps after
	// LoadEnd run on an idle cluster.
	LoadEnd, FinalAfter time.Duration
}

// Step is one action of a script.
type Step struct {
	At time.Duration
	Do func(w *World)
}

// shape applies the script's fixed shape to drawn options.
func (s *Script) shape(o *Options) {
	if s.Nodes > 0 {
		o.nodes = s.Nodes
	}
	if s.Partitions > 0 {
		o.partitions = s.Partitions
	}
	if s.Replicas > 0 {
		o.replicas = s.Replicas
	}
	if s.Clients > 0 {
		o.clients = s.Clients
	}
	o.readers = s.Readers
	o.faults = faultParams{maxDrift: 1e-4}
	if s.Options != nil {
		s.Options(o)
	}
}

func (s *Script) install(w *World) {
	for _, st := range s.Steps {
		w.schedule(nil, st.At, func() { st.Do(w) })
	}
}
