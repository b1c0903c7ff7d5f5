package replica

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestPeerMessageRoundTrip sends every message type, with every field the
// core uses set to a distinct value, through the wire form and back,
// including protobuf encoding.
func TestPeerMessageRoundTrip(t *testing.T) {
	entries := []pacifica.Entry{
		{Ballot: 3, Decree: 41, LastCommitted: 39, Timestamp: 1_700_000_001, RequestID: pacifica.RequestID{ClientID: 1<<63 + 5, Seq: 9}, Data: []byte("put k v")},
		{Ballot: 4, Decree: 42, LastCommitted: 40, Timestamp: -7, Data: []byte{0}},
		{Ballot: 4, Decree: 43, LastCommitted: 40},
	}
	msgs := []pacifica.Message{
		{Type: pacifica.MsgPrepare, From: "a:1", To: "b:2", Ballot: 4, Status: pacifica.StatusSecondary,
			PrevBallot: 3, PrevDecree: 40, Entries: entries, Committed: 40, LearnID: 0},
		{Type: pacifica.MsgPrepare, From: "a:1", To: "c:3", Ballot: 4, Status: pacifica.StatusPotentialSecondary,
			PrevDecree: 43, Committed: 43, LearnID: 7},
		{Type: pacifica.MsgPrepareAck, From: "b:2", To: "a:1", Ballot: 4, Decree: 43},
		{Type: pacifica.MsgPrepareAck, From: "b:2", To: "a:1", Ballot: 4, Reject: true, PrevDecree: 40, Decree: 38},
		{Type: pacifica.MsgLearnStart, From: "a:1", To: "c:3", Ballot: 4, LearnID: 8},
		{Type: pacifica.MsgLearnRequest, From: "c:3", To: "a:1", Ballot: 4, LearnID: 8, Committed: 12, Decree: 15},
		{Type: pacifica.MsgLearnLog, From: "a:1", To: "c:3", Ballot: 4, Status: pacifica.StatusPotentialSecondary,
			PrevBallot: 2, PrevDecree: 12, Entries: entries[:1], Committed: 40, LearnID: 8},
		{Type: pacifica.MsgLearnApp, From: "a:1", To: "c:3", Ballot: 4, LearnID: 9},
		{Type: pacifica.MsgStaleBallot, From: "b:2", To: "a:1", Ballot: 6},
	}
	g := gpid{app: 3, index: 5}
	for _, m := range msgs {
		wire, err := proto.Marshal(peerMessageToPB(g, m))
		if err != nil {
			t.Fatal(err)
		}
		var decoded pb.PeerMessage
		if err := proto.Unmarshal(wire, &decoded); err != nil {
			t.Fatal(err)
		}
		gotG, got, err := peerMessageFromPB(&decoded)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if gotG != g {
			t.Errorf("%s: gpid %v, want %v", m, gotG, g)
		}
		// Empty payloads come back as nil; compare them as the core does.
		for i := range got.Entries {
			if len(got.Entries[i].Data) == 0 && len(m.Entries[i].Data) == 0 {
				got.Entries[i].Data = m.Entries[i].Data
			}
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip changed the message:\n got %#v\nwant %#v", got, m)
		}
	}
}

func TestPeerMessageFromPBRefusesMalformed(t *testing.T) {
	good := func() *pb.PeerMessage {
		return &pb.PeerMessage{Gpid: &pb.Gpid{AppId: 1}, Type: int32(pacifica.MsgPrepare), From: "a", To: "b"}
	}
	cases := map[string]func(*pb.PeerMessage){
		"no gpid":        func(m *pb.PeerMessage) { m.Gpid = nil },
		"bad app":        func(m *pb.PeerMessage) { m.Gpid.AppId = 0 },
		"type zero":      func(m *pb.PeerMessage) { m.Type = 0 },
		"unknown type":   func(m *pb.PeerMessage) { m.Type = int32(pacifica.MsgStaleBallot) + 1 },
		"unknown status": func(m *pb.PeerMessage) { m.Status = 99 },
		"no sender":      func(m *pb.PeerMessage) { m.From = "" },
		"no recipient":   func(m *pb.PeerMessage) { m.To = "" },
	}
	if _, _, err := peerMessageFromPB(good()); err != nil {
		t.Fatalf("well-formed message refused: %v", err)
	}
	for name, spoil := range cases {
		m := good()
		spoil(m)
		if _, _, err := peerMessageFromPB(m); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: err %v, want ErrInvalidRequest", name, err)
		}
	}
}
