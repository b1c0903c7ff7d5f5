// Package etcdtarget adapts etcd's client to bench.Target, so that the same
// load and the same checks run against an etcd cluster as against Pegasus:
// the reference point of the benchmarks.
//
// Reads are etcd's default linearizable reads (a read index round through
// the leader), not serializable ones, so the two systems are held to the
// same consistency.
package etcdtarget

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// Target is a bench.Target over an etcd key space.
type Target struct {
	kv clientv3.KV
}

var _ bench.Target = (*Target)(nil)

// New returns a Target sending every operation through kv (usually a
// *clientv3.Client).
func New(kv clientv3.KV) *Target { return &Target{kv: kv} }

// Get implements bench.Target with a linearizable Range.
func (t *Target) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	resp, err := t.kv.Get(ctx, string(key))
	if err != nil {
		return nil, false, err
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// Set implements bench.Target with a Put.
func (t *Target) Set(ctx context.Context, key, value []byte) error {
	_, err := t.kv.Put(ctx, string(key), string(value))
	return writeError(err)
}

// Del implements bench.Target with a Delete.
func (t *Target) Del(ctx context.Context, key []byte) error {
	_, err := t.kv.Delete(ctx, string(key))
	return writeError(err)
}

// refusedBeforeProposal are the etcd errors a member answers before it
// proposes a write to raft, so the write certainly did not happen: no
// leader (checked by the request interceptor), too many requests and
// request too large (checked before the proposal), and no space (the quota
// check before the proposal). Everything else, timeouts, "leader changed"
// and "server stopped" included, may come after the proposal was made and
// leaves the outcome unknown.
var refusedBeforeProposal = []error{
	rpctypes.ErrNoLeader,
	rpctypes.ErrTooManyRequests,
	rpctypes.ErrRequestTooLarge,
	rpctypes.ErrNoSpace,
}

// writeError marks the definitive refusals with bench.ErrRejected.
func writeError(err error) error {
	if err == nil {
		return nil
	}
	// The client converts gRPC statuses to rpctypes.EtcdError values;
	// converting again handles a raw status from an interceptor.
	etcdErr := rpctypes.Error(err)
	for _, refused := range refusedBeforeProposal {
		if errors.Is(err, refused) || errors.Is(etcdErr, refused) {
			return fmt.Errorf("%w: %w", bench.ErrRejected, err)
		}
	}
	return err
}
