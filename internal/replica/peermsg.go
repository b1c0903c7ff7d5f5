package replica

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The wire form of the replication core's messages, both directions. Every
// field of pacifica.Message has exactly one field of pb.PeerMessage:
//
//	Type        type            Committed  committed
//	From, To    from, to        Decree     decree
//	Ballot      ballot          Reject     reject
//	Status      status          LearnID    signature (Pegasus' learn signature)
//	PrevBallot  prev_ballot     Entries    mutations
//	PrevDecree  prev_decree     Incarnation  incarnation
//	SentAt      sent_at_ns      Holds      holds (LeaseHold)
//	HoldsCleared holds_cleared
//
// The remaining PeerMessage fields are not used by this core.

// peerMessageToPB converts a core message of partition g to its wire form.
// Entry payloads are shared, not copied.
func peerMessageToPB(g gpid, m pacifica.Message) *pb.PeerMessage {
	out := &pb.PeerMessage{
		Gpid:       g.pb(),
		Type:       int32(m.Type),
		From:       string(m.From),
		To:         string(m.To),
		Ballot:     int64(m.Ballot),
		Status:     int32(m.Status),
		PrevBallot: int64(m.PrevBallot),
		PrevDecree: int64(m.PrevDecree),
		Committed:  int64(m.Committed),
		Decree:     int64(m.Decree),
		Reject:     m.Reject,
		Signature:  m.LearnID,

		Incarnation:  m.Incarnation,
		SentAtNs:     int64(m.SentAt),
		HoldsCleared: m.HoldsCleared,
	}
	for _, h := range m.Holds {
		out.Holds = append(out.Holds, &pb.LeaseHold{Primary: string(h.Primary), Ballot: int64(h.Ballot),
			RemainingNs: int64(h.Remaining)})
	}
	if len(m.Entries) > 0 {
		out.Mutations = make([]*pb.Mutation, len(m.Entries))
		for i, e := range m.Entries {
			out.Mutations[i] = mutationToPB(e)
		}
	}
	return out
}

func mutationToPB(e pacifica.Entry) *pb.Mutation {
	mu := &pb.Mutation{
		Ballot:        int64(e.Ballot),
		Decree:        int64(e.Decree),
		LastCommitted: int64(e.LastCommitted),
		Timestamp:     e.Timestamp,
		Data:          e.Data,
	}
	if !e.RequestID.IsZero() {
		mu.RequestId = &pb.RequestID{ClientId: e.RequestID.ClientID, Seq: e.RequestID.Seq}
	}
	return mu
}

// peerMessageFromPB converts a wire message to the core's form. It checks
// only what the core cannot: that the type and status are ones it defines
// and that the message names both ends. Everything else (ballots, decree
// sequences) is the core's to judge.
func peerMessageFromPB(in *pb.PeerMessage) (gpid, pacifica.Message, error) {
	g, err := gpidFromPB(in.GetGpid())
	if err != nil {
		return gpid{}, pacifica.Message{}, err
	}
	typ := pacifica.MessageType(in.GetType())
	if in.GetType() < int32(pacifica.MsgPrepare) || in.GetType() > int32(pacifica.MsgStaleBallot) {
		return gpid{}, pacifica.Message{}, errorf(ErrInvalidRequest, "peer message type %d", in.GetType())
	}
	if in.GetStatus() < 0 || in.GetStatus() > int32(pacifica.StatusPotentialSecondary) {
		return gpid{}, pacifica.Message{}, errorf(ErrInvalidRequest, "peer message status %d", in.GetStatus())
	}
	if in.GetFrom() == "" || in.GetTo() == "" {
		return gpid{}, pacifica.Message{}, errorf(ErrInvalidRequest, "peer message without sender or recipient")
	}
	m := pacifica.Message{
		Type:       typ,
		From:       pacifica.NodeID(in.GetFrom()),
		To:         pacifica.NodeID(in.GetTo()),
		Ballot:     pacifica.Ballot(in.GetBallot()),
		Status:     pacifica.Status(in.GetStatus()),
		PrevBallot: pacifica.Ballot(in.GetPrevBallot()),
		PrevDecree: pacifica.Decree(in.GetPrevDecree()),
		Committed:  pacifica.Decree(in.GetCommitted()),
		Decree:     pacifica.Decree(in.GetDecree()),
		Reject:     in.GetReject(),
		LearnID:    in.GetSignature(),

		Incarnation:  in.GetIncarnation(),
		SentAt:       pacifica.Time(max(in.GetSentAtNs(), 0)),
		HoldsCleared: in.GetHoldsCleared(),
	}
	for _, h := range in.GetHolds() {
		m.Holds = append(m.Holds, pacifica.Hold{Primary: pacifica.NodeID(h.GetPrimary()),
			Ballot: pacifica.Ballot(h.GetBallot()), Remaining: time.Duration(h.GetRemainingNs())})
	}
	if muts := in.GetMutations(); len(muts) > 0 {
		m.Entries = make([]pacifica.Entry, len(muts))
		for i, mu := range muts {
			m.Entries[i] = mutationFromPB(mu)
		}
	}
	return g, m, nil
}

func mutationFromPB(mu *pb.Mutation) pacifica.Entry {
	return pacifica.Entry{
		Ballot:        pacifica.Ballot(mu.GetBallot()),
		Decree:        pacifica.Decree(mu.GetDecree()),
		LastCommitted: pacifica.Decree(mu.GetLastCommitted()),
		Timestamp:     mu.GetTimestamp(),
		RequestID:     pacifica.RequestID{ClientID: mu.GetRequestId().GetClientId(), Seq: mu.GetRequestId().GetSeq()},
		Data:          mu.GetData(),
	}
}
