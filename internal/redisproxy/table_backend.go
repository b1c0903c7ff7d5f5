package redisproxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// tableBackend stores each Redis key as the Pegasus record (hash key = the
// Redis key, sort key = empty), the mapping Apache Pegasus' own Redis proxy
// uses, so data written through either is readable by the other and by
// every Pegasus client.
type tableBackend struct {
	table *client.Table
}

// NewTableBackend returns a Backend over an opened Pegasus table. Every
// operation inherits the client's routing, retries and deduplication of
// retried writes; its deadline is the one the proxy puts on the command.
func NewTableBackend(t *client.Table) Backend {
	return &tableBackend{table: t}
}

// emptySortKey is the sort key of every record the proxy touches.
var emptySortKey = []byte{}

func (b *tableBackend) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	return b.table.Get(ctx, key, emptySortKey)
}

func (b *tableBackend) Set(ctx context.Context, key, value []byte, ttl time.Duration) error {
	return b.table.Set(ctx, key, emptySortKey, value, ttl)
}

// checkTypes maps a Condition to the Pegasus check_and_set condition that
// evaluates it on the server, atomically with the write.
var checkTypes = map[ConditionKind]client.CheckType{
	IfAbsent:  client.CheckValueNotExist,
	IfPresent: client.CheckValueExist,
	IfEqual:   client.CheckValueBytesEqual,
}

func (b *tableBackend) SetIf(ctx context.Context, key []byte, cond Condition, value []byte, ttl time.Duration) (bool, error) {
	ct, ok := checkTypes[cond.Kind]
	if !ok {
		return false, fmt.Errorf("redisproxy: unknown condition kind %d", cond.Kind)
	}
	check := client.Check{SortKey: emptySortKey, Type: ct}
	if cond.Kind == IfEqual {
		// Pegasus fails every bytes comparison on a missing record, so an
		// expected empty value matches an existing empty value only.
		check.Operand = cond.Value
	}
	res, err := b.table.CheckAndSet(ctx, key, check, emptySortKey, value, &client.CheckAndSetOptions{TTL: ttl})
	if err != nil {
		return false, err
	}
	return res.Applied, nil
}

func (b *tableBackend) Del(ctx context.Context, key []byte) error {
	return b.table.Del(ctx, key, emptySortKey)
}

func (b *tableBackend) Exist(ctx context.Context, key []byte) (bool, error) {
	return b.table.Exist(ctx, key, emptySortKey)
}

func (b *tableBackend) TTL(ctx context.Context, key []byte) (time.Duration, bool, error) {
	ttl, found, err := b.table.TTL(ctx, key, emptySortKey)
	if found && ttl == client.NoTTL {
		ttl = NoTTL
	}
	return ttl, found, err
}

func (b *tableBackend) Incr(ctx context.Context, key []byte, delta int64) (int64, error) {
	v, err := b.table.Incr(ctx, key, emptySortKey, delta, nil)
	// The proxy checks the key's length before calling, so an invalid
	// argument here is the server refusing the stored value or the sum.
	if errors.Is(err, client.ErrInvalidArgument) {
		return 0, fmt.Errorf("%w: %w", ErrNotInteger, err)
	}
	return v, err
}
