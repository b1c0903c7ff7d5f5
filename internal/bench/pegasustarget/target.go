package pegasustarget

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench"
)

// table is the part of *client.Table the target uses; tests fake it.
type table interface {
	Get(ctx context.Context, hashKey, sortKey []byte) ([]byte, bool, error)
	Set(ctx context.Context, hashKey, sortKey, value []byte, ttl time.Duration) error
	Del(ctx context.Context, hashKey, sortKey []byte) error
}

// Target is a bench.Target over one Pegasus table.
type Target struct {
	table table
	// opTimeout, when positive, bounds each operation on top of the
	// caller's deadline.
	opTimeout time.Duration
}

var _ bench.Target = (*Target)(nil)

// New returns a Target over t. opTimeout, when positive, bounds every
// operation (retries included) in addition to the caller's deadline; the
// bench runner already gives each operation its own, so 0 is the usual
// choice.
func New(t *client.Table, opTimeout time.Duration) *Target {
	return &Target{table: t, opTimeout: opTimeout}
}

// opContext applies the per-operation timeout.
func (t *Target) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.opTimeout > 0 {
		return context.WithTimeout(ctx, t.opTimeout)
	}
	return ctx, func() {}
}

// Get implements bench.Target. A failed read changed nothing, so its error
// is passed on as it is.
func (t *Target) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	return t.table.Get(ctx, key, nil)
}

// Set implements bench.Target.
func (t *Target) Set(ctx context.Context, key, value []byte) error {
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	return writeError(t.table.Set(ctx, key, nil, value, 0))
}

// Del implements bench.Target.
func (t *Target) Del(ctx context.Context, key []byte) error {
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	return writeError(t.table.Del(ctx, key, nil))
}

// writeError translates the client's verdict on a failed write. The client
// wraps ErrUnknownOutcome whenever an attempt may have reached a primary
// without a definitive answer coming back; every other error is a promise
// that the write was not applied, which bench.ErrRejected carries to the
// checkers.
func writeError(err error) error {
	if err == nil || errors.Is(err, client.ErrUnknownOutcome) {
		return err
	}
	return fmt.Errorf("%w: %w", bench.ErrRejected, err)
}
