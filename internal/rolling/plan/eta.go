package plan

import (
	"strconv"
	"time"
)

// Estimate is how far a roll is, in servers (a batch restarted together
// counts each of its servers), and how long the rest should take judging
// by the servers done so far.
type Estimate struct {
	Done  int `json:"servers_done"`
	Total int `json:"servers"`
	// Left is the expected time to the last server's end; valid when
	// Known, that is once a replica server finished in this roll.
	Left  time.Duration `json:"left_ns,omitempty"`
	Known bool          `json:"known,omitempty"`
}

// unit is the steps of one server, or of one batch, of the plan.
type unit struct {
	phase          Phase
	servers        int
	started, ended time.Time
	done           bool
}

// units groups the plan's server steps: consecutive steps of one replica
// server (or batch), meta server or collector.
func (s *State) units() []unit {
	var out []unit
	key := ""
	for i, step := range s.Plan.Steps {
		if step.Phase != PhaseReplica && step.Phase != PhaseMeta && step.Phase != PhaseCollector {
			key = ""
			continue
		}
		k := string(step.Phase) + " " + step.Node
		servers := 1
		if step.Batch > 0 {
			k = string(step.Phase) + " batch " + strconv.Itoa(step.Batch)
			servers = len(s.Plan.Batches[step.Batch-1])
		}
		if k != key {
			key = k
			out = append(out, unit{phase: step.Phase, servers: servers, done: true})
		}
		u := &out[len(out)-1]
		st := s.Steps[i]
		if !st.Started.IsZero() && (u.started.IsZero() || st.Started.Before(u.started)) {
			u.started = st.Started
		}
		if st.Ended.After(u.ended) {
			u.ended = st.Ended
		}
		if st.Status != StepDone && st.Status != StepSkipped {
			u.done = false
		}
	}
	return out
}

// Estimate reports the roll's progress at now. The time left is the mean
// measured time of the finished units of each kind (replica servers,
// batches and meta servers apart: a meta server restarts without a
// drain) times those still to go, less what the current one already
// took. A kind not measured yet borrows the replica servers' mean.
func (m *Machine) Estimate(now time.Time) Estimate {
	var e Estimate
	sum := map[Phase]time.Duration{}
	count := map[Phase]int{}
	units := m.s.units()
	for _, u := range units {
		e.Total += u.servers
		if u.done && !u.started.IsZero() {
			e.Done += u.servers
			sum[u.phase] += u.ended.Sub(u.started)
			count[u.phase]++
		}
	}
	if count[PhaseReplica] == 0 {
		return e
	}
	mean := func(p Phase) time.Duration {
		if count[p] == 0 {
			p = PhaseReplica
		}
		return sum[p] / time.Duration(count[p])
	}
	for _, u := range units {
		if u.done {
			continue
		}
		left := mean(u.phase)
		if !u.started.IsZero() {
			left = max(left-now.Sub(u.started), 0)
		}
		e.Left += left
	}
	e.Known = !m.s.Status.Terminal()
	return e
}
