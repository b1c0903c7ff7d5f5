package redisproxy

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// memBackend is an in-memory Backend with Pegasus' semantics where they
// differ from Redis' (TTL in whole seconds rounded up, a missing record
// fails an equality check), a settable clock, and hooks for injecting
// latency, failures and concurrent writers.
type memBackend struct {
	mu      sync.Mutex
	now     time.Time
	records map[string]memRecord

	// delay is added to every call, honoring the context.
	delay time.Duration
	// fail, when set, is asked before every call; a non-nil error is returned.
	fail func(op string, key []byte) error
	// beforeSetIf, when set, runs before each SetIf, outside the lock: a
	// concurrent writer slipping in between EXPIRE's read and write.
	beforeSetIf func(key []byte)

	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

type memRecord struct {
	value    []byte
	expireAt time.Time // zero: never
}

func newMemBackend() *memBackend {
	return &memBackend{now: time.Unix(1_700_000_000, 0), records: make(map[string]memRecord)}
}

// enter accounts for a call and applies the injected delay and failure.
func (b *memBackend) enter(ctx context.Context, op string, key []byte) (func(), error) {
	b.calls.Add(1)
	n := b.inFlight.Add(1)
	for {
		m := b.maxInFlight.Load()
		if n <= m || b.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	leave := func() { b.inFlight.Add(-1) }
	if b.delay > 0 {
		select {
		case <-time.After(b.delay):
		case <-ctx.Done():
			leave()
			return nil, fmt.Errorf("mem %s: %w", op, ctx.Err())
		}
	}
	if b.fail != nil {
		if err := b.fail(op, key); err != nil {
			leave()
			return nil, err
		}
	}
	return leave, nil
}

// advance moves the clock.
func (b *memBackend) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// lookup returns the live record under key; the caller holds mu.
func (b *memBackend) lookup(key []byte) (memRecord, bool) {
	r, ok := b.records[string(key)]
	if ok && !r.expireAt.IsZero() && !b.now.Before(r.expireAt) {
		delete(b.records, string(key))
		return memRecord{}, false
	}
	return r, ok
}

// put stores a copy of value; the caller holds mu.
func (b *memBackend) put(key, value []byte, ttl time.Duration) {
	r := memRecord{value: append([]byte{}, value...)}
	if ttl > 0 {
		secs := (ttl + time.Second - 1) / time.Second
		r.expireAt = b.now.Add(secs * time.Second)
	}
	b.records[string(key)] = r
}

// value returns the live value under key, for assertions.
func (b *memBackend) value(key string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.lookup([]byte(key))
	return string(r.value), ok
}

func (b *memBackend) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	leave, err := b.enter(ctx, "get", key)
	if err != nil {
		return nil, false, err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.lookup(key)
	return append([]byte{}, r.value...), ok, nil
}

func (b *memBackend) Set(ctx context.Context, key, value []byte, ttl time.Duration) error {
	leave, err := b.enter(ctx, "set", key)
	if err != nil {
		return err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.put(key, value, ttl)
	return nil
}

func (b *memBackend) SetIf(ctx context.Context, key []byte, cond Condition, value []byte, ttl time.Duration) (bool, error) {
	if b.beforeSetIf != nil {
		b.beforeSetIf(key)
	}
	leave, err := b.enter(ctx, "setif", key)
	if err != nil {
		return false, err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	r, exists := b.lookup(key)
	var pass bool
	switch cond.Kind {
	case IfAbsent:
		pass = !exists
	case IfPresent:
		pass = exists
	case IfEqual:
		pass = exists && string(r.value) == string(cond.Value)
	default:
		return false, fmt.Errorf("mem: bad condition %d", cond.Kind)
	}
	if pass {
		b.put(key, value, ttl)
	}
	return pass, nil
}

func (b *memBackend) Del(ctx context.Context, key []byte) error {
	leave, err := b.enter(ctx, "del", key)
	if err != nil {
		return err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.records, string(key))
	return nil
}

func (b *memBackend) Exist(ctx context.Context, key []byte) (bool, error) {
	leave, err := b.enter(ctx, "exist", key)
	if err != nil {
		return false, err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.lookup(key)
	return ok, nil
}

func (b *memBackend) TTL(ctx context.Context, key []byte) (time.Duration, bool, error) {
	leave, err := b.enter(ctx, "ttl", key)
	if err != nil {
		return 0, false, err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.lookup(key)
	switch {
	case !ok:
		return 0, false, nil
	case r.expireAt.IsZero():
		return NoTTL, true, nil
	}
	return r.expireAt.Sub(b.now).Truncate(time.Second), true, nil
}

func (b *memBackend) Incr(ctx context.Context, key []byte, delta int64) (int64, error) {
	leave, err := b.enter(ctx, "incr", key)
	if err != nil {
		return 0, err
	}
	defer leave()
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.lookup(key)
	var v int64
	if ok && len(r.value) > 0 {
		if v, err = strconv.ParseInt(string(r.value), 10, 64); err != nil {
			return 0, fmt.Errorf("%w: %q", ErrNotInteger, r.value)
		}
	}
	if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
		return 0, fmt.Errorf("%w: %d + %d overflows", ErrNotInteger, v, delta)
	}
	v += delta
	r.value = strconv.AppendInt(nil, v, 10)
	b.records[string(key)] = r // keeps expireAt
	return v, nil
}

// errUnknownOutcomeForTest stands for client.ErrUnknownOutcome in errors
// the fake returns.
var errUnknownOutcomeForTest = client.ErrUnknownOutcome
