package pacifica

import (
	"fmt"
	"testing"
)

// benchGroup is a minimal driver for benchmarking the core alone: three
// replicas, entries "persisted" the moment they are handed out, messages
// delivered in order through in-memory queues. It measures the cost of the
// protocol, not of disks or networks.
type benchGroup struct {
	replicas map[NodeID]*Replica
	order    []NodeID
	inbox    []Message
	replies  int
}

func newBenchGroup(b *testing.B) *benchGroup {
	g := &benchGroup{replicas: make(map[NodeID]*Replica)}
	cfg := Configuration{Ballot: 1, Primary: "1", Secondaries: []NodeID{"2", "3"}}
	for _, id := range []NodeID{"1", "2", "3"} {
		r, err := New(Config{ID: id, MaxInflight: 1024, Incarnation: 1}, DurableState{}, clockStart)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.UpdateConfig(cfg); err != nil {
			b.Fatal(err)
		}
		g.replicas[id] = r
		g.order = append(g.order, id)
	}
	g.settle()
	return g
}

// settle runs Ready rounds and delivers messages until nothing moves.
func (g *benchGroup) settle() {
	for {
		moved := false
		for _, id := range g.order {
			r := g.replicas[id]
			if !r.HasReady() {
				continue
			}
			moved = true
			rd := r.Ready()
			g.inbox = append(g.inbox, rd.Messages...)
			g.replies += len(rd.Replies)
			r.Advance(rd)
		}
		for len(g.inbox) > 0 {
			moved = true
			m := g.inbox[0]
			g.inbox = g.inbox[1:]
			_ = g.replicas[m.To].Step(clockStart, m)
		}
		if !moved {
			return
		}
	}
}

// BenchmarkProposeCommit measures propose -> commit -> apply -> reply through
// three replicas, with `batch` writes proposed together per round (they share
// prepares, acks and Readies). ns/op is per write.
func BenchmarkProposeCommit(b *testing.B) {
	payload := make([]byte, 100)
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			g := newBenchGroup(b)
			p := g.replicas["1"]
			b.ReportAllocs()
			b.ResetTimer()
			seq := uint64(0)
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				for i := 0; i < n; i++ {
					seq++
					if _, err := p.Propose(RequestID{ClientID: 1, Seq: seq}, payload, 0); err != nil {
						b.Fatal(err)
					}
				}
				g.settle()
				done += n
			}
			b.StopTimer()
			if g.replies != b.N {
				b.Fatalf("%d replies for %d writes", g.replies, b.N)
			}
		})
	}
}
