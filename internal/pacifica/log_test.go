package pacifica

import "testing"

func TestReplicaLogCursors(t *testing.T) {
	l := newReplicaLog(10)
	if l.last() != 10 || l.stable != 10 || l.handed != 10 {
		t.Fatalf("empty log after 10: last=%d stable=%d handed=%d", l.last(), l.stable, l.handed)
	}
	for d := Decree(11); d <= 15; d++ {
		l.append(Entry{Ballot: 2, Decree: d, Data: []byte("x")})
	}
	if got := l.unhanded(); len(got) != 5 || got[0].Decree != 11 || l.handed != 15 {
		t.Fatalf("unhanded: %v, handed %d", got, l.handed)
	}
	if got := l.unhanded(); got != nil {
		t.Fatalf("second unhanded: %v", got)
	}
	l.stable = 15

	// Replacing a suffix pulls both cursors back: the new versions are
	// neither handed out nor durable.
	l.truncateFrom(13)
	if l.last() != 12 || l.stable != 12 || l.handed != 12 {
		t.Fatalf("after truncation: last=%d stable=%d handed=%d", l.last(), l.stable, l.handed)
	}
	if l.bytes != 2*(1+entryOverhead) {
		t.Fatalf("bytes %d after truncation", l.bytes)
	}

	l.evictThrough(11)
	if l.first != 12 || l.prevBallot != 2 {
		t.Fatalf("after eviction: first=%d prevBallot=%d", l.first, l.prevBallot)
	}
	if b, ok := l.ballotAt(11); !ok || b != 2 {
		t.Fatalf("ballot of the last evicted entry: %d %v", b, ok)
	}
	if _, ok := l.ballotAt(10); ok {
		t.Fatal("ballot of an entry evicted earlier should be unknown")
	}
	if _, ok := l.at(11); ok {
		t.Fatal("evicted entry still readable")
	}
	if b, ok := l.ballotAt(0); !ok || b != 0 {
		t.Fatal("decree 0 has ballot 0")
	}
}

func TestReplicaLogCopiesAreIndependent(t *testing.T) {
	l := newReplicaLog(0)
	l.append(Entry{Ballot: 1, Decree: 1})
	l.append(Entry{Ballot: 1, Decree: 2})
	out := l.copyRange(1, 2)
	l.truncateFrom(2)
	l.append(Entry{Ballot: 3, Decree: 2})
	if out[1].Ballot != 1 {
		t.Fatalf("a copy handed out changed with the log: %v", out[1])
	}
}

func TestReplicaLogAppendOutOfSequencePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("append with a hole did not panic")
		}
	}()
	l := newReplicaLog(0)
	l.append(Entry{Ballot: 1, Decree: 2})
}
