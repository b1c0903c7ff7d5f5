package netguard

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// DefaultBudgetBytes is the request bytes a server buffers at once across
// all its connections of one protocol when not configured otherwise.
const DefaultBudgetBytes = 256 << 20

// ErrOverBudget is returned for a request larger than the whole budget.
var ErrOverBudget = errors.New("netguard: request larger than the server's request-byte budget")

// Budget caps the request bytes a server holds at once across all its
// connections: a connection reserves a request's size before it buffers
// the request, and releases it once the request is answered. A connection
// that finds the budget spent waits (it stops reading, which pushes back
// on its client through TCP) until others release, or until its context
// ends. So many clients sending large requests at once cost the server at
// most the budget, not their sum.
type Budget struct {
	size int64
	sem  *semaphore.Weighted
}

// NewBudget returns a budget of size bytes; size <= 0 means
// DefaultBudgetBytes.
func NewBudget(size int64) *Budget {
	if size <= 0 {
		size = DefaultBudgetBytes
	}
	return &Budget{size: size, sem: semaphore.NewWeighted(size)}
}

// Size returns the budget's size in bytes.
func (b *Budget) Size() int64 { return b.size }

// Reserve waits until n bytes are free and takes them. release gives them
// back; it must be called exactly once.
func (b *Budget) Reserve(ctx context.Context, n int) (release func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	if int64(n) > b.size {
		return nil, fmt.Errorf("%w: %d bytes, budget %d", ErrOverBudget, n, b.size)
	}
	if err := b.sem.Acquire(ctx, int64(n)); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(int64(n)) }, nil
}
