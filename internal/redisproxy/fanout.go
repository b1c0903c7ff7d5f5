package redisproxy

import (
	"context"
	"sync"
	"sync/atomic"
)

// maxFanOut bounds the backend calls one multi-key command (MGET, MSET,
// DEL, EXISTS) has in flight, so that a command naming thousands of keys
// cannot monopolise the client's streams.
const maxFanOut = 64

// fanOut calls fn(ctx, i) for every i in [0, n), at most maxFanOut at a
// time, and returns the first error. After an error no further call starts;
// calls already running are left to finish rather than canceled, because
// canceling a write in flight only turns a known outcome into an unknown one.
func fanOut(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	var (
		next     atomic.Int64
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(n, maxFanOut) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
