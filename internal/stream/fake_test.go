package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The stream owns goroutines; none may outlive a closed Conn.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// action is what the fake replica server does with one request.
type action struct {
	delay   time.Duration   // answer late, concurrently with later requests
	hold    <-chan struct{} // answer once this is closed
	swallow bool            // never answer
}

// fakeServer is a ReplicaClient service over real gRPC on loopback that
// answers a Get with its hash key as the value, so that every caller can
// check it got its own reply.
type fakeServer struct {
	pb.UnimplementedReplicaClientServer
	act atomic.Pointer[func(*pb.ClientRequest) action]
	brk chan struct{} // a send ends the stream that receives it

	streams    atomic.Int64
	outOfOrder atomic.Int64 // replies sent after a reply to a later request

	mu       sync.Mutex
	received []*pb.ClientRequest
}

func newFakeServer(t testing.TB) (*fakeServer, string) {
	f := &fakeServer{brk: make(chan struct{})}
	addr := metatest.Serve(t, func(s *grpc.Server) { pb.RegisterReplicaClientServer(s, f) })
	return f, addr
}

func (f *fakeServer) setAction(fn func(*pb.ClientRequest) action) { f.act.Store(&fn) }

// breakStream ends the open stream with a transport error.
func (f *fakeServer) breakStream(t testing.TB) {
	select {
	case f.brk <- struct{}{}:
	case <-time.After(30 * time.Second):
		t.Fatal("no stream to break")
	}
}

func (f *fakeServer) requests() []*pb.ClientRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*pb.ClientRequest(nil), f.received...)
}

func (f *fakeServer) Data(st pb.ReplicaClient_DataServer) error {
	f.streams.Add(1)
	ctx := st.Context()
	reqs := make(chan *pb.ClientRequest)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := st.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		sendMu  sync.Mutex
		highest uint64
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	reply := func(req *pb.ClientRequest) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if req.Id < highest {
			f.outOfOrder.Add(1)
		}
		highest = max(highest, req.Id)
		st.Send(&pb.ClientResponse{Id: req.Id, Result: &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: true, Value: req.GetGet().GetHashKey()}}})
	}
	for {
		select {
		case <-f.brk:
			return status.Error(codes.Unavailable, "fake: stream broken")
		case err := <-recvErr:
			return err
		case req := <-reqs:
			f.mu.Lock()
			f.received = append(f.received, req)
			f.mu.Unlock()
			var a action
			if fn := f.act.Load(); fn != nil && *fn != nil {
				a = (*fn)(req)
			}
			if a.swallow {
				continue
			}
			if a.delay == 0 && a.hold == nil {
				reply(req)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var late <-chan time.Time
				if a.delay > 0 {
					late = time.After(a.delay)
				}
				select {
				case <-a.hold:
				case <-late:
				case <-ctx.Done():
					return
				}
				reply(req)
			}()
		}
	}
}

// newConn returns a Conn to addr, dialled as both of its users dial, and
// closes it when the test ends.
func newConn(t testing.TB, addr string) *Conn {
	t.Helper()
	cc, err := dial.Options{}.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(addr, cc)
	t.Cleanup(func() { c.Close() })
	return c
}

func get(hashKey string) *pb.ClientRequest {
	return &pb.ClientRequest{Op: &pb.ClientRequest_Get{Get: &pb.GetRequest{HashKey: []byte(hashKey)}}}
}

func set(hashKey string, rid *pb.RequestID) *pb.ClientRequest {
	return &pb.ClientRequest{RequestId: rid, Op: &pb.ClientRequest_Set{Set: &pb.SetRequest{HashKey: []byte(hashKey)}}}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (the machine may be loaded).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
