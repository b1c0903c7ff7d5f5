package rolling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultLockTTL is the lease behind the rolling lock: an orchestrator that
// died (kill -9, a lost machine) holds the lock at most this long.
const DefaultLockTTL = 10 * time.Second

// EtcdStore keeps the roll in etcd under /<cluster>/rolling/.
type EtcdStore struct {
	cli      *clientv3.Client
	stateKey string
	lockKey  string
	reqKey   string
	ttl      time.Duration
	// poll is how often Request checks whether its request was consumed.
	poll time.Duration
}

// NewEtcdStore uses cli for cluster's keys. ttl is the lock lease
// (DefaultLockTTL when zero; etcd rounds it to whole seconds).
func NewEtcdStore(cli *clientv3.Client, cluster string, ttl time.Duration) *EtcdStore {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	prefix := "/" + cluster + "/rolling/"
	return &EtcdStore{cli: cli, stateKey: prefix + "state", lockKey: prefix + "lock",
		reqKey: prefix + "request", ttl: ttl, poll: 200 * time.Millisecond}
}

// StateKey is where the record lives.
func (s *EtcdStore) StateKey() string { return s.stateKey }

// Load implements Store.
func (s *EtcdStore) Load(ctx context.Context) (Record, error) {
	resp, err := s.cli.Get(ctx, s.stateKey)
	if err != nil {
		return Record{}, fmt.Errorf("rolling: read %s: %w", s.stateKey, err)
	}
	if len(resp.Kvs) == 0 {
		return Record{}, ErrNoRoll
	}
	return decodeRecord(resp.Kvs[0].Value)
}

// Holder implements Store.
func (s *EtcdStore) Holder(ctx context.Context) (Holder, bool, error) {
	resp, err := s.cli.Get(ctx, s.lockKey)
	if err != nil {
		return Holder{}, false, fmt.Errorf("rolling: read %s: %w", s.lockKey, err)
	}
	if len(resp.Kvs) == 0 {
		return Holder{}, false, nil
	}
	return decodeHolder(resp.Kvs[0].Value), true, nil
}

func decodeHolder(data []byte) Holder {
	var h Holder
	if json.Unmarshal(data, &h) != nil {
		h.Host = "unreadable holder " + string(data)
	}
	return h
}

// Acquire implements Store: the lock key is created bound to a fresh lease
// in one transaction, which fails when the key exists.
func (s *EtcdStore) Acquire(ctx context.Context, h Holder) (Session, error) {
	value, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	// The session's keep-alive must outlive ctx, which may only bound the
	// acquisition; Release ends it.
	sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(int(max(1, s.ttl.Round(time.Second)/time.Second))))
	if err != nil {
		return nil, fmt.Errorf("rolling: lease for the lock: %w", err)
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.lockKey), "=", 0)).
		Then(clientv3.OpPut(s.lockKey, string(value), clientv3.WithLease(sess.Lease())),
			clientv3.OpDelete(s.reqKey)). // requests to a previous holder are void
		Else(clientv3.OpGet(s.lockKey)).
		Commit()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("rolling: take %s: %w", s.lockKey, err)
	}
	if !resp.Succeeded {
		sess.Close()
		holder := Holder{Host: "unknown holder"}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			holder = decodeHolder(kvs[0].Value)
		}
		return nil, &LockedError{Holder: holder}
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	es := &etcdSession{store: s, sess: sess, requests: make(chan Request, 16), cancel: cancel}
	es.wg.Add(1)
	go es.watchRequests(watchCtx, resp.Header.Revision+1)
	return es, nil
}

// Request implements Store: the request is written to the request key and
// is consumed when the holder deletes it.
func (s *EtcdStore) Request(ctx context.Context, req Request) error {
	if _, held, err := s.Holder(ctx); err != nil {
		return err
	} else if !held {
		return ErrNotRunning
	}
	value, err := json.Marshal(req)
	if err != nil {
		return err
	}
	put, err := s.cli.Put(ctx, s.reqKey, string(value))
	if err != nil {
		return fmt.Errorf("rolling: write %s: %w", s.reqKey, err)
	}
	written := put.Header.Revision
	for {
		resp, err := s.cli.Get(ctx, s.reqKey)
		if err == nil && (len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision != written) {
			// Deleted by the holder, or replaced by a later request after
			// the holder consumed ours (the holder deletes before anyone
			// else may write again only if fast; either way ours is gone).
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s still queued (%w)", ErrNotAcknowledged, req.Op, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// AcquireWait retries Acquire while another orchestrator holds the lock,
// until ctx ends: the lock of an orchestrator that died frees itself when
// its lease expires. The last *LockedError is returned if it never does.
func AcquireWait(ctx context.Context, s Store, h Holder, poll time.Duration) (Session, error) {
	for {
		sess, err := s.Acquire(ctx, h)
		if err == nil || !errors.Is(err, ErrLocked) {
			return sess, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(poll):
		}
	}
}

type etcdSession struct {
	store    *EtcdStore
	sess     *concurrency.Session
	requests chan Request
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Save implements Session: the write is fenced on the lock key still
// belonging to this session's lease.
func (e *etcdSession) Save(ctx context.Context, r Record) error {
	value, err := json.Marshal(r)
	if err != nil {
		return err
	}
	resp, err := e.store.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(e.store.lockKey), "=", e.sess.Lease())).
		Then(clientv3.OpPut(e.store.stateKey, string(value))).
		Commit()
	if err != nil {
		return fmt.Errorf("rolling: write %s: %w", e.store.stateKey, err)
	}
	if !resp.Succeeded {
		return ErrLockLost
	}
	return nil
}

func (e *etcdSession) Requests() <-chan Request { return e.requests }
func (e *etcdSession) Lost() <-chan struct{}    { return e.sess.Done() }

// Release implements Session: revoking the lease deletes the lock key.
func (e *etcdSession) Release(ctx context.Context) error {
	e.cancel()
	e.wg.Wait()
	return e.sess.Close()
}

// watchRequests delivers every request written to the request key and
// deletes it, which tells the requester it was consumed. A watch that
// breaks (a compaction, a reconnect) resumes from the current revision
// after re-reading the key.
func (e *etcdSession) watchRequests(ctx context.Context, from int64) {
	defer e.wg.Done()
	key := e.store.reqKey
	for ctx.Err() == nil {
		for wr := range e.store.cli.Watch(ctx, key, clientv3.WithRev(from)) {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				from = ev.Kv.ModRevision + 1
				if ev.Type == clientv3.EventTypePut {
					e.consume(ctx, ev.Kv.Value, ev.Kv.ModRevision)
				}
			}
		}
		if ctx.Err() != nil || e.store.cli.Ctx().Err() != nil {
			return // released, or the client was closed under us
		}
		// Catch up with a plain read, then watch again from there.
		resp, err := e.store.cli.Get(ctx, key)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		from = resp.Header.Revision + 1
		if len(resp.Kvs) > 0 {
			e.consume(ctx, resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
		}
	}
}

func (e *etcdSession) consume(ctx context.Context, value []byte, rev int64) {
	var req Request
	if err := json.Unmarshal(value, &req); err == nil {
		select {
		case e.requests <- req:
		case <-ctx.Done():
			return
		}
	}
	// Delete only that revision: a request written since is not lost.
	_, _ = e.store.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(e.store.reqKey), "=", rev)).
		Then(clientv3.OpDelete(e.store.reqKey)).
		Commit()
}
