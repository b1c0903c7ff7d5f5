package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Faulty targets for the runner tests. Each wraps a healthy MemTarget and
// breaks one promise.

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowTarget delays call n (1-based, counting every call) by delay(n).
type slowTarget struct {
	inner Target
	calls atomic.Int64
	delay func(call int64) time.Duration
}

func (s *slowTarget) wait(ctx context.Context) error {
	return sleep(ctx, s.delay(s.calls.Add(1)))
}

func (s *slowTarget) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if err := s.wait(ctx); err != nil {
		return nil, false, err
	}
	return s.inner.Get(ctx, key)
}

func (s *slowTarget) Set(ctx context.Context, key, value []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.inner.Set(ctx, key, value)
}

func (s *slowTarget) Del(ctx context.Context, key []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.inner.Del(ctx, key)
}

// staleTarget serves every third read of a key from the version before
// the latest, as a lagging replica would.
type staleTarget struct {
	mu   sync.Mutex
	cur  map[string][]byte
	prev map[string][]byte // a present nil value: the key was absent
	gets int
}

func newStaleTarget() *staleTarget {
	return &staleTarget{cur: make(map[string][]byte), prev: make(map[string][]byte)}
}

func (s *staleTarget) Get(_ context.Context, key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if old, ok := s.prev[string(key)]; ok && s.gets%3 == 0 {
		return old, old != nil, nil
	}
	v, ok := s.cur[string(key)]
	return v, ok, nil
}

func (s *staleTarget) Set(_ context.Context, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prev[string(key)] = s.cur[string(key)]
	s.cur[string(key)] = append([]byte(nil), value...)
	return nil
}

func (s *staleTarget) Del(_ context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prev[string(key)] = s.cur[string(key)]
	delete(s.cur, string(key))
	return nil
}

// losingTarget acknowledges every write to one key after the first without
// applying it, as a primary that lost its log tail would.
type losingTarget struct {
	*MemTarget
	key     string
	written atomic.Bool
}

func (l *losingTarget) Set(ctx context.Context, key, value []byte) error {
	if string(key) == l.key && l.written.Swap(true) {
		return nil
	}
	return l.MemTarget.Set(ctx, key, value)
}

func (l *losingTarget) Del(ctx context.Context, key []byte) error {
	if string(key) == l.key && l.written.Load() {
		return nil
	}
	return l.MemTarget.Del(ctx, key)
}

// flakyTarget fails some operations in every way a correct store may:
// writes that time out after applying, writes that time out without
// applying, writes rejected up front, and failed reads.
type flakyTarget struct {
	*MemTarget
	writes, reads atomic.Int64
}

var errRPCTimeout = errors.New("rpc timeout")

func (f *flakyTarget) write(ctx context.Context, apply func() error) error {
	switch f.writes.Add(1) % 10 {
	case 3:
		if err := apply(); err != nil {
			return err
		}
		return fmt.Errorf("reply lost: %w", context.DeadlineExceeded)
	case 6:
		return errRPCTimeout
	case 9:
		return fmt.Errorf("%w: not primary", ErrRejected)
	}
	return apply()
}

func (f *flakyTarget) Set(ctx context.Context, key, value []byte) error {
	return f.write(ctx, func() error { return f.MemTarget.Set(ctx, key, value) })
}

func (f *flakyTarget) Del(ctx context.Context, key []byte) error {
	return f.write(ctx, func() error { return f.MemTarget.Del(ctx, key) })
}

func (f *flakyTarget) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if f.reads.Add(1)%13 == 0 {
		return nil, false, errRPCTimeout
	}
	return f.MemTarget.Get(ctx, key)
}
