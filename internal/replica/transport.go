package replica

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Peer transport: replica-to-replica messages of every partition.
//
// Each destination server gets one gRPC connection and on it one long-lived
// ReplicaPeer.Replicate stream, fed by one sender goroutine. Partition
// goroutines only queue their messages (never block on the network); the
// sender takes everything queued for its destination, from every partition,
// and sends it as one PeerBatch. Under load that is what turns many small
// prepares and acknowledgements into few large writes.
//
// The stream carries traffic one way: the receiving server answers on its
// own stream to the sender. Delivery is best effort. A message the queue
// cannot hold, or that was in a batch when the stream broke, is dropped; the
// replication core retransmits what matters and times out the rest. A broken
// stream is reopened with jittered exponential backoff.

const (
	// maxPeerQueue bounds the messages queued for one destination while its
	// stream is slow or down.
	maxPeerQueue = 16384
	// maxPeerBatchBytes bounds the mutation bytes of one PeerBatch.
	maxPeerBatchBytes = 8 << 20
	peerBackoffMin    = 20 * time.Millisecond
	peerBackoffMax    = 2 * time.Second
)

// transport owns the connections to the other replica servers.
type transport struct {
	node pacifica.NodeID
	dial func(addr string) (*grpc.ClientConn, error)
	log  *slog.Logger
	// clusterID returns the server's cluster id, sent when a stream opens.
	clusterID func() string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	peers  map[pacifica.NodeID]*peer
	closed bool
}

func newTransport(node pacifica.NodeID, dial func(string) (*grpc.ClientConn, error), log *slog.Logger) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	return &transport{node: node, dial: dial, log: log, ctx: ctx, cancel: cancel, peers: make(map[pacifica.NodeID]*peer)}
}

// peer is one destination server.
type peer struct {
	addr   pacifica.NodeID
	conn   *grpc.ClientConn
	mu     sync.Mutex
	queue  []outgoing
	signal chan struct{}
}

type outgoing struct {
	g gpid
	m pacifica.Message
}

// peer returns the destination's state, creating it (and its sender) on
// first use.
func (t *transport) peer(addr pacifica.NodeID) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if p := t.peers[addr]; p != nil {
		return p, nil
	}
	conn, err := t.dial(string(addr))
	if err != nil {
		return nil, err
	}
	p := &peer{addr: addr, conn: conn, signal: make(chan struct{}, 1)}
	t.peers[addr] = p
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runSender(p)
	}()
	return p, nil
}

// conn returns the connection to addr, shared with the message stream.
func (t *transport) conn(addr pacifica.NodeID) (*grpc.ClientConn, error) {
	p, err := t.peer(addr)
	if err != nil {
		return nil, err
	}
	return p.conn, nil
}

// send queues the messages of partition g for their destinations.
func (t *transport) send(g gpid, msgs []pacifica.Message) {
	for _, m := range msgs {
		p, err := t.peer(m.To)
		if err != nil {
			continue
		}
		p.mu.Lock()
		if len(p.queue) < maxPeerQueue {
			p.queue = append(p.queue, outgoing{g: g, m: m})
		}
		p.mu.Unlock()
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
}

// runSender keeps a stream to p open and pumps its queue into it.
func (t *transport) runSender(p *peer) {
	backoff := peerBackoffMin
	for t.ctx.Err() == nil {
		sent, err := t.stream(p)
		if t.ctx.Err() != nil {
			return
		}
		if sent {
			backoff = peerBackoffMin
		}
		t.log.Debug("peer stream ended", "peer", p.addr, "err", err)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, peerBackoffMax)
	}
}

// stream opens one Replicate stream and sends batches until it breaks. sent
// reports whether any batch went out.
func (t *transport) stream(p *peer) (sent bool, err error) {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	if t.clusterID != nil {
		ctx = rpc.WithClusterID(ctx, t.clusterID())
	}
	st, err := pb.NewReplicaPeerClient(p.conn).Replicate(ctx)
	if err != nil {
		return false, err
	}
	broken := make(chan struct{})
	go func() {
		// Nothing flows back on this stream; Recv returns when it breaks.
		for {
			if _, err := st.Recv(); err != nil {
				close(broken)
				return
			}
		}
	}()
	var batch []outgoing
	for {
		select {
		case <-p.signal:
		case <-broken:
			return sent, io.ErrUnexpectedEOF
		case <-ctx.Done():
			return sent, ctx.Err()
		}
		for {
			batch = p.take(batch[:0])
			if len(batch) == 0 {
				break
			}
			if err := st.Send(toPeerBatch(batch)); err != nil {
				return sent, err
			}
			sent = true
			clear(batch)
		}
	}
}

// take moves queued messages into batch, up to maxPeerBatchBytes of
// mutation data (at least one message).
func (p *peer) take(batch []outgoing) []outgoing {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, bytes := 0, 0
	for _, o := range p.queue {
		size := 0
		for _, e := range o.m.Entries {
			size += len(e.Data)
		}
		if n > 0 && bytes+size > maxPeerBatchBytes {
			break
		}
		bytes += size
		n++
	}
	batch = append(batch, p.queue[:n]...)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return batch
}

func toPeerBatch(batch []outgoing) *pb.PeerBatch {
	out := &pb.PeerBatch{Messages: make([]*pb.PeerMessage, len(batch))}
	for i, o := range batch {
		out.Messages[i] = peerMessageToPB(o.g, o.m)
	}
	return out
}

// close stops every sender and closes the connections.
func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	peers := t.peers
	t.peers = nil
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
	for _, p := range peers {
		_ = p.conn.Close()
	}
}

// serveReplicate serves one ReplicaPeer.Replicate stream: it delivers the
// messages another server sends to this one's partitions.
func (s *Server) serveReplicate(stream pb.ReplicaPeer_ReplicateServer) error {
	var idp *security.Identity
	if id, ok := security.PeerIdentity(stream.Context()); ok {
		idp = &id
	}
	for {
		batch, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		injectPeerDelay()
		for _, pm := range batch.GetMessages() {
			g, m, err := peerMessageFromPB(pm)
			if err != nil {
				s.log.Debug("malformed peer message dropped", "from", pm.GetFrom(), "err", err)
				continue
			}
			if err := s.peerMayDeliver(g, m, idp); err != nil {
				s.guardLog.log(s, "replicate", err)
				continue
			}
			s.deliver(g, m)
		}
	}
}

// deliver hands a peer message to its partition. A LearnStart for a
// partition this server does not hold opens it, as Pegasus' add-learner
// does: the primary names this node a learner before the meta server's
// configuration may have arrived. Anything else for an unknown partition is
// dropped, and so are messages for another node.
func (s *Server) deliver(g gpid, m pacifica.Message) {
	if m.To != s.node {
		return
	}
	if p := s.partition(g); p != nil {
		s.countLearnMessage(p, m)
		// A full queue drops the message; its sender retransmits.
		_ = p.post(event{kind: evMessage, msg: m})
		return
	}
	if m.Type == pacifica.MsgLearnStart {
		s.openForLearning(g)
	}
}
