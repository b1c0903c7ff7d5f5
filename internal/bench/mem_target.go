package bench

import (
	"context"
	"sync"
)

// MemTarget is an in-memory, trivially linearizable Target: one mutex around
// a map. It measures the load generator's own overhead and serves as the
// healthy baseline in tests.
type MemTarget struct {
	mu   sync.Mutex
	data map[string][]byte
}

var _ Target = (*MemTarget)(nil)

// NewMemTarget returns an empty MemTarget.
func NewMemTarget() *MemTarget {
	return &MemTarget{data: make(map[string][]byte)}
}

// Get implements Target.
func (m *MemTarget) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[string(key)]
	if !ok {
		return nil, false, nil
	}
	// Copy out: the stored slice must not be aliased by a caller that
	// might modify it.
	return append([]byte(nil), v...), true, nil
}

// Set implements Target.
func (m *MemTarget) Set(ctx context.Context, key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := append([]byte(nil), value...)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[string(key)] = v
	return nil
}

// Del implements Target.
func (m *MemTarget) Del(ctx context.Context, key []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, string(key))
	return nil
}
