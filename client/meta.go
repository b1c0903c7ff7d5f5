package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaAttemptTimeout bounds the query to the meta server believed to be the
// leader before the others are asked. A leader that is hung rather than
// dead (paused, partitioned) would otherwise hold every refresh for the
// whole operation timeout.
const metaAttemptTimeout = time.Second

// maxForwards bounds how many ERR_FORWARD_TO_OTHERS redirects one query
// follows, so that two meta servers naming each other during an election
// cannot loop.
const maxForwards = 3

// metaSession talks to the meta servers. It remembers which one answered
// last (the leader, or a follower that could answer) and asks it first.
// Configuration queries are unary: they are rare next to data operations.
type metaSession struct {
	dial func(addr string) (*grpc.ClientConn, error)

	mu     sync.Mutex
	addrs  []string // every meta server known, configured ones first
	conns  map[string]*grpc.ClientConn
	leader string
	closed bool
}

func newMetaSession(addrs []string, dial func(string) (*grpc.ClientConn, error)) *metaSession {
	return &metaSession{
		dial:   dial,
		addrs:  append([]string(nil), addrs...),
		conns:  make(map[string]*grpc.ClientConn),
		leader: addrs[0],
	}
}

// conn returns the connection to addr, dialling it on first use and adding
// addr to the known meta servers if a redirect named a new one.
func (m *metaSession) conn(addr string) (*grpc.ClientConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if cc, ok := m.conns[addr]; ok {
		return cc, nil
	}
	cc, err := m.dial(addr)
	if err != nil {
		return nil, err
	}
	m.conns[addr] = cc
	known := false
	for _, a := range m.addrs {
		known = known || a == addr
	}
	if !known {
		m.addrs = append(m.addrs, addr)
	}
	return cc, nil
}

// waitConnected dials every meta server and returns once one of them has
// accepted a connection, or with ErrUnavailable when none did before ctx
// ended.
func (m *metaSession) waitConnected(ctx context.Context) error {
	m.mu.Lock()
	addrs := append([]string(nil), m.addrs...)
	m.mu.Unlock()
	ready := make(chan struct{}, len(addrs))
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, addr := range addrs {
		cc, err := m.conn(addr)
		if err != nil {
			return fmt.Errorf("%w: meta server %s: %v", ErrUnavailable, addr, err)
		}
		cc.Connect()
		go func() {
			for {
				s := cc.GetState()
				if s == connectivity.Ready {
					ready <- struct{}{}
					return
				}
				if !cc.WaitForStateChange(watchCtx, s) {
					return
				}
			}
		}()
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: no meta server of %v accepted a connection: %w", ErrUnavailable, addrs, ctx.Err())
	}
}

// queryConfig asks for a table's partition configuration. It asks the
// remembered meta server first, follows ERR_FORWARD_TO_OTHERS to the leader
// it names, and when the asked server fails asks all the others at once,
// keeping the first answer.
func (m *metaSession) queryConfig(ctx context.Context, table string) (*pb.QueryConfigResponse, error) {
	req := &pb.QueryConfigRequest{Table: table}
	m.mu.Lock()
	addr := m.leader
	m.mu.Unlock()

	var lastErr error
	tried := make(map[string]bool)
	for forwards := 0; ; {
		tried[addr] = true
		attemptCtx, cancel := context.WithTimeout(ctx, metaAttemptTimeout)
		resp, err := m.queryOne(attemptCtx, addr, req)
		cancel()
		if err == nil {
			next, done, err := m.settle(addr, table, resp)
			if done {
				return resp, err
			}
			if next != "" && forwards < maxForwards && !tried[next] {
				forwards++
				addr = next
				continue
			}
			lastErr = err
		} else {
			lastErr = err
		}
		if ctx.Err() != nil {
			break
		}
		// The asked server failed or could not name a leader: ask every
		// server not yet tried, all at once.
		resp, from, err := m.queryOthers(ctx, req, tried)
		if err != nil {
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		next, done, err := m.settle(from, table, resp)
		if done {
			return resp, err
		}
		lastErr = err
		if next == "" || forwards >= maxForwards || tried[next] {
			break
		}
		forwards++
		addr = next
	}
	return nil, fmt.Errorf("%w: no meta server answered for table %q: %w", ErrUnavailable, table, lastErr)
}

// settle interprets a meta server's answer. done is true when the answer is
// final (a configuration, or a definitive error). Otherwise next names the
// leader to ask when the server forwarded the query, and err says why the
// answer is not usable.
func (m *metaSession) settle(from, table string, resp *pb.QueryConfigResponse) (next string, done bool, err error) {
	code := resp.GetError().GetCode()
	switch code {
	case pb.ErrorCode_ERR_OK:
		m.setLeader(from)
		switch resp.GetTable().GetStatus() {
		case pb.TableStatus_AS_DROPPING, pb.TableStatus_AS_DROPPED:
			return "", true, &Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST.String(), Message: fmt.Sprintf("table %q is %s", table, resp.GetTable().GetStatus()), Server: from, kind: ErrTableNotFound}
		}
		return "", true, nil
	case pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
		err, _ := serverError(from, resp.GetError())
		leader := resp.GetError().GetPrimary()
		if leader != "" && leader != from {
			m.setLeader(leader)
		}
		return leader, false, err
	default:
		err, r := serverError(from, resp.GetError())
		if r.retry == noRetry {
			m.setLeader(from)
			return "", true, err
		}
		return "", false, err
	}
}

func (m *metaSession) setLeader(addr string) {
	m.mu.Lock()
	m.leader = addr
	m.mu.Unlock()
}

func (m *metaSession) queryOne(ctx context.Context, addr string, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	cc, err := m.conn(addr)
	if err != nil {
		return nil, err
	}
	resp, err := pb.NewMetaClient(cc).QueryConfig(ctx, req)
	if err != nil {
		return nil, transportRule(addr, err)
	}
	return resp, nil
}

// queryOthers asks every known meta server not in tried concurrently and
// returns the first answer, preferring a final one over a redirect.
func (m *metaSession) queryOthers(ctx context.Context, req *pb.QueryConfigRequest, tried map[string]bool) (*pb.QueryConfigResponse, string, error) {
	m.mu.Lock()
	var others []string
	for _, a := range m.addrs {
		if !tried[a] {
			others = append(others, a)
			tried[a] = true
		}
	}
	m.mu.Unlock()
	if len(others) == 0 {
		return nil, "", errors.New("no other meta server to ask")
	}
	type answer struct {
		addr string
		resp *pb.QueryConfigResponse
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, len(others))
	for _, addr := range others {
		go func() {
			resp, err := m.queryOne(ctx, addr, req)
			answers <- answer{addr, resp, err}
		}()
	}
	var redirect *answer
	var lastErr error
	for range others {
		a := <-answers
		switch {
		case a.err != nil:
			lastErr = a.err
		case a.resp.GetError().GetCode() == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
			if redirect == nil {
				redirect = &a
			}
		default:
			return a.resp, a.addr, nil
		}
	}
	if redirect != nil {
		return redirect.resp, redirect.addr, nil
	}
	return nil, "", lastErr
}

func (m *metaSession) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for _, cc := range m.conns {
		cc.Close()
	}
}
