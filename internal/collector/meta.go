package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaAttemptTimeout bounds one call to one meta server, so that a hung
// meta server costs one attempt and not the caller's whole deadline.
const metaAttemptTimeout = 2 * time.Second

// maxMetaForwards bounds how many ERR_FORWARD_TO_OTHERS redirects one call
// follows, so two meta servers naming each other mid-election cannot loop.
const maxMetaForwards = 3

// metaConns reaches the meta servers for the collector's admin calls
// (create the detection table, list nodes and tables). It asks the server
// that answered last first, follows redirects to the leader, and falls
// back to every other configured server in turn.
type metaConns struct {
	addrs []string

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	leader string
}

func newMetaConns(addrs []string) *metaConns {
	return &metaConns{addrs: append([]string(nil), addrs...), conns: make(map[string]*grpc.ClientConn), leader: addrs[0]}
}

func (m *metaConns) conn(addr string) (pb.MetaClient, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cc, ok := m.conns[addr]
	if !ok {
		var err error
		opts := append(rpc.ClientOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if cc, err = grpc.NewClient(addr, opts...); err != nil {
			return nil, err
		}
		m.conns[addr] = cc
	}
	return pb.NewMetaClient(cc), nil
}

// order returns the servers to ask: the last one that answered, then the
// configured ones.
func (m *metaConns) order() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{m.leader}
	for _, a := range m.addrs {
		if a != m.leader {
			out = append(out, a)
		}
	}
	return out
}

func (m *metaConns) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cc := range m.conns {
		cc.Close()
	}
	m.conns = map[string]*grpc.ClientConn{}
}

// metaResponse is every Meta service response: each carries an Error.
type metaResponse interface{ GetError() *pb.Error }

// callMeta runs call against the meta servers until one answers with
// anything but ERR_FORWARD_TO_OTHERS. The answer is returned whatever its
// error code, for the caller to interpret (ERR_APP_NOT_EXIST is an answer,
// not a failure); metaErr turns a code into an error. When no server
// answers, the error wraps ErrMetaUnavailable.
func callMeta[R metaResponse](ctx context.Context, m *metaConns, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	var zero R
	queue := m.order()
	tried := make(map[string]bool)
	forwards := 0
	var lastErr error
	for len(queue) > 0 {
		addr := queue[0]
		queue = queue[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		mc, err := m.conn(addr)
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", addr, err)
			continue
		}
		actx, cancel := context.WithTimeout(ctx, metaAttemptTimeout)
		resp, err := call(actx, mc)
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", addr, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if e := resp.GetError(); e.GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
			lastErr = fmt.Errorf("%s: not the leader", addr)
			if leader := e.GetPrimary(); leader != "" && !tried[leader] && forwards < maxMetaForwards {
				forwards++
				queue = append([]string{leader}, queue...)
			}
			continue
		}
		m.mu.Lock()
		m.leader = addr
		m.mu.Unlock()
		return resp, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no meta server configured")
	}
	return zero, fmt.Errorf("%w: %w", ErrMetaUnavailable, lastErr)
}

// metaErr returns nil for ERR_OK and otherwise an error wrapping ErrMeta
// that names the code.
func metaErr(e *pb.Error) error {
	if e.GetCode() == pb.ErrorCode_ERR_OK {
		return nil
	}
	if e.GetMessage() != "" {
		return fmt.Errorf("%w: %s: %s", ErrMeta, e.GetCode(), e.GetMessage())
	}
	return fmt.Errorf("%w: %s", ErrMeta, e.GetCode())
}
