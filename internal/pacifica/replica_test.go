package pacifica

import (
	"errors"
	"testing"
)

func newTestReplica(t *testing.T, id NodeID, state DurableState) *Replica {
	t.Helper()
	r, err := New(Config{ID: id, MinReplicaCount: 1, Incarnation: 1}, state, clockStart)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drain carries out every Ready of r as a driver would, returning them.
func drain(r *Replica) []Ready {
	var out []Ready
	for r.HasReady() {
		rd := r.Ready()
		out = append(out, rd)
		r.Advance(rd)
	}
	return out
}

func TestNewValidates(t *testing.T) {
	e := func(b Ballot, d, lc Decree) Entry { return Entry{Ballot: b, Decree: d, LastCommitted: lc} }
	for _, tc := range []struct {
		name  string
		cfg   Config
		state DurableState
		want  error
	}{
		{"no id", Config{}, DurableState{}, ErrInvalidConfig},
		{"retry after timeout", Config{ID: "1", PrepareRetryTicks: 5, PrepareTimeoutTicks: 5}, DurableState{}, ErrInvalidConfig},
		{"gap after storage", Config{ID: "1"}, DurableState{AppliedDecree: 3, Entries: []Entry{e(1, 5, 0)}}, ErrInvalidLog},
		{"hole", Config{ID: "1"}, DurableState{Entries: []Entry{e(1, 1, 0), e(1, 3, 0)}}, ErrInvalidLog},
		{"ballot decreases", Config{ID: "1"}, DurableState{Entries: []Entry{e(2, 1, 0), e(1, 2, 0)}}, ErrInvalidLog},
		{"commit point not before entry", Config{ID: "1"}, DurableState{Entries: []Entry{e(1, 1, 1)}}, ErrInvalidLog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, tc.state, clockStart); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRestartRecoversCommitPointFromLog(t *testing.T) {
	// Storage applied 2; the log holds 2..5; entry 5 was prepared when 4 was
	// committed. So 3 and 4 are to apply, 5 is only prepared.
	r := newTestReplica(t, "1", DurableState{HardState: HardState{Ballot: 3}, AppliedDecree: 2, Entries: []Entry{
		{Ballot: 2, Decree: 2, LastCommitted: 1},
		{Ballot: 2, Decree: 3, LastCommitted: 2},
		{Ballot: 3, Decree: 4, LastCommitted: 2},
		{Ballot: 3, Decree: 5, LastCommitted: 4},
	}})
	if r.Status() != StatusInactive || r.Ballot() != 3 || r.CommittedDecree() != 4 ||
		r.PreparedDecree() != 5 || r.AppliedDecree() != 2 {
		t.Fatalf("restarted as %s", r.Debug())
	}
	rds := drain(r)
	if len(rds) != 1 || len(rds[0].Committed) != 2 || rds[0].Committed[0].Decree != 3 || len(rds[0].Entries) != 0 {
		t.Fatalf("first Ready after restart: %+v", rds)
	}
}

func TestRestartedPrimaryAsksForNewBallot(t *testing.T) {
	r := newTestReplica(t, "1", DurableState{HardState: HardState{Ballot: 4}, Entries: []Entry{{Ballot: 4, Decree: 1}}})
	if err := r.UpdateConfig(Configuration{Ballot: 4, Primary: "1", Secondaries: []NodeID{"2"}}); err != nil {
		t.Fatal(err)
	}
	if r.Status() != StatusInactive {
		t.Fatalf("became %s at the ballot it had before the crash", r.Status())
	}
	rd := r.Ready()
	if len(rd.ConfigProposals) != 1 || rd.ConfigProposals[0] != (ConfigProposal{Type: ConfigForceUpdateBallot, Node: "1", Ballot: 4}) {
		t.Fatalf("proposals %v", rd.ConfigProposals)
	}
	r.Advance(rd)
	if err := r.UpdateConfig(Configuration{Ballot: 5, Primary: "1", Secondaries: []NodeID{"2"}}); err != nil {
		t.Fatal(err)
	}
	if r.Status() != StatusPrimary {
		t.Fatalf("not primary at the new ballot: %s", r.Debug())
	}
}

func TestUpdateConfigRefusesStaleAndConflicting(t *testing.T) {
	r := newTestReplica(t, "1", DurableState{})
	cfg := Configuration{Ballot: 3, Primary: "1", Secondaries: []NodeID{"2"}}
	if err := r.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateConfig(cfg); err != nil {
		t.Fatalf("repeating the configuration: %v", err)
	}
	var stale *StaleBallotError
	err := r.UpdateConfig(Configuration{Ballot: 2, Primary: "2"})
	if !errors.As(err, &stale) || stale.Ballot != 3 || stale.Got != 2 || !errors.Is(err, ErrStaleBallot) {
		t.Fatalf("older ballot: %v", err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 3, Primary: "1", Secondaries: []NodeID{"3"}}); !errors.Is(err, ErrInvalidConfiguration) {
		t.Fatalf("other membership at the same ballot: %v", err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 4, Primary: "1", Secondaries: []NodeID{"1"}}); !errors.Is(err, ErrInvalidConfiguration) {
		t.Fatalf("node listed twice: %v", err)
	}
}

func TestProposeRefusals(t *testing.T) {
	r, err := New(Config{ID: "1", MaxInflight: 2, MinReplicaCount: 2}, DurableState{}, clockStart)
	if err != nil {
		t.Fatal(err)
	}
	var np *NotPrimaryError
	if _, err := r.Propose(RequestID{}, nil, 0); !errors.As(err, &np) {
		t.Fatalf("inactive replica: %v", err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 1, Primary: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Propose(RequestID{}, nil, 0); !errors.As(err, &np) || np.Primary != "1" {
		t.Fatalf("before its ballot is durable: %v", err)
	}
	drain(r)
	if _, err := r.Propose(RequestID{}, nil, 0); !errors.Is(err, ErrNotEnoughMembers) {
		t.Fatalf("alone with MinReplicaCount 2: %v", err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 2, Primary: "1", Secondaries: []NodeID{"2"}}); err != nil {
		t.Fatal(err)
	}
	drain(r)
	for i := 0; i < 2; i++ {
		if _, err := r.Propose(RequestID{ClientID: 1, Seq: uint64(i + 1)}, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Propose(RequestID{ClientID: 1, Seq: 3}, nil, 0); !errors.Is(err, ErrCapacityExceeded) {
		t.Fatalf("beyond MaxInflight: %v", err)
	}
	// A retry of an in-flight write is no new entry, even at capacity.
	if d, err := r.Propose(RequestID{ClientID: 1, Seq: 1}, nil, 0); err != nil || d != 1 {
		t.Fatalf("retry: %d %v", d, err)
	}
	// Handover: pending writes are answered with the new primary.
	if err := r.UpdateConfig(Configuration{Ballot: 3, Primary: "2", Secondaries: []NodeID{"1"}}); err != nil {
		t.Fatal(err)
	}
	var replies []Reply
	for _, rd := range drain(r) {
		replies = append(replies, rd.Replies...)
	}
	if len(replies) != 2 {
		t.Fatalf("replies %v", replies)
	}
	for _, rp := range replies {
		if !errors.As(rp.Err, &np) || np.Primary != "2" || np.Ballot != 3 {
			t.Fatalf("reply %v", rp)
		}
	}
	if err := r.CanServeRead(clockStart, clockStart+1); !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("read on a secondary: %v", err)
	}
}

func TestStepRejectsStaleAndMisrouted(t *testing.T) {
	r := newTestReplica(t, "2", DurableState{})
	if err := r.UpdateConfig(Configuration{Ballot: 5, Primary: "1", Secondaries: []NodeID{"2"}}); err != nil {
		t.Fatal(err)
	}
	drain(r)
	if err := r.Step(clockStart, Message{Type: MsgPrepare, From: "1", To: "3", Ballot: 5}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("misrouted: %v", err)
	}
	err := r.Step(clockStart, Message{Type: MsgPrepare, From: "9", To: "2", Ballot: 4, Status: StatusSecondary})
	if !errors.Is(err, ErrStaleBallot) {
		t.Fatalf("stale: %v", err)
	}
	rd := r.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].Type != MsgStaleBallot || rd.Messages[0].Ballot != 5 || rd.Messages[0].To != "9" {
		t.Fatalf("rejection %v", rd.Messages)
	}
	r.Advance(rd)
	bad := Message{Type: MsgPrepare, From: "1", To: "2", Ballot: 5, Status: StatusSecondary,
		Entries: []Entry{{Ballot: 5, Decree: 2}}}
	if err := r.Step(clockStart, bad); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("entries out of sequence: %v", err)
	}
}

func TestAddLearnerRefusals(t *testing.T) {
	r := newTestReplica(t, "1", DurableState{})
	var np *NotPrimaryError
	if err := r.AddLearner("4", 1); !errors.As(err, &np) {
		t.Fatalf("not primary: %v", err)
	}
	if err := r.UpdateConfig(Configuration{Ballot: 2, Primary: "1", Secondaries: []NodeID{"2"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddLearner("2", 2); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("member: %v", err)
	}
	if err := r.AddLearner("4", 1); !errors.Is(err, ErrStaleBallot) {
		t.Fatalf("stale ballot: %v", err)
	}
	if err := r.InstallCheckpoint(CheckpointRequest{From: "1", Ballot: 2, LearnID: 1}, 10); !errors.Is(err, ErrCheckpointNotWanted) {
		t.Fatalf("checkpoint nobody asked for: %v", err)
	}
}

func TestReadyContract(t *testing.T) {
	r := newTestReplica(t, "1", DurableState{})
	if err := r.UpdateConfig(Configuration{Ballot: 1, Primary: "1"}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if rd.HardState.Ballot != 1 {
		t.Fatalf("ballot not handed out: %+v", rd)
	}
	if r.HasReady() {
		t.Fatal("HasReady while a Ready is outstanding")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("second Ready before Advance did not panic")
			}
		}()
		r.Ready()
	}()
	r.Advance(rd)
	// A single-replica group commits on its own durability alone, and only
	// once the entry is durable.
	if _, err := r.Propose(RequestID{ClientID: 1, Seq: 1}, []byte("x"), 7); err != nil {
		t.Fatal(err)
	}
	rd = r.Ready()
	if len(rd.Entries) != 1 || len(rd.Committed) != 0 {
		t.Fatalf("first Ready: %+v", rd)
	}
	r.Advance(rd)
	rd = r.Ready()
	if len(rd.Committed) != 1 || len(rd.Replies) != 1 || rd.Replies[0].Err != nil || rd.Committed[0].Timestamp != 7 {
		t.Fatalf("second Ready: %+v", rd)
	}
	r.Advance(rd)
	if err := r.CanServeRead(clockStart, clockStart+1); err != nil {
		t.Fatal(err)
	}
}
