package meta

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Fence identifies a leadership term: the election key this meta server
// created and the revision that created it. Every transaction of an
// EtcdStore requires that key to still exist with that create revision, so
// once the session behind it expires (and another meta server may be
// elected) no write of this term can land, however late it arrives.
type Fence struct {
	Key string
	Rev int64
}

// EtcdStore is the Store on etcd, for one leadership term.
type EtcdStore struct {
	cli   *clientv3.Client
	keys  keys
	fence Fence
}

const (
	// loadPageSize bounds one range read while loading: 100,000 partition
	// records are ~30 MB, more than one response should carry.
	loadPageSize = 5000
	// createChunk bounds the partitions written in one transaction; etcd
	// refuses transactions of more than 128 operations by default, and each
	// partition needs a put and a compare.
	createChunk = 100
	// loadAttempts: a load that reads at one revision fails if etcd
	// compacts that revision mid-way; it then starts again.
	loadAttempts = 3
)

// NewEtcdStore returns the store of cluster under /<cluster>/ for the term
// fence. A zero Fence writes unconditionally; only single-writer tools and
// tests use that.
func NewEtcdStore(cli *clientv3.Client, cluster string, fence Fence) *EtcdStore {
	return &EtcdStore{cli: cli, keys: newKeys(cluster), fence: fence}
}

// guarded returns the compares every transaction carries (the fence) plus
// extra, and the reads its else branch makes to tell a lost fence from a
// lost compare.
func (s *EtcdStore) guarded(extra ...clientv3.Cmp) ([]clientv3.Cmp, []clientv3.Op) {
	if s.fence.Key == "" {
		return extra, nil
	}
	cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.fence.Key), "=", s.fence.Rev)}, extra...)
	return cmps, []clientv3.Op{clientv3.OpGet(s.fence.Key)}
}

// fenceLost inspects the else branch of a failed transaction whose first
// else operations are guarded's reads.
func (s *EtcdStore) fenceLost(resp *clientv3.TxnResponse) bool {
	if s.fence.Key == "" {
		return false
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 0 || kvs[0].CreateRevision != s.fence.Rev
}

func (s *EtcdStore) lostErr() error {
	return fmt.Errorf("%w: election key %s (revision %d) is gone", ErrLostLeadership, s.fence.Key, s.fence.Rev)
}

// Load implements Store.
func (s *EtcdStore) Load(ctx context.Context) (*Snapshot, error) {
	var err error
	for range loadAttempts {
		var snap *Snapshot
		snap, err = s.loadOnce(ctx)
		if !errors.Is(err, rpctypes.ErrCompacted) {
			return snap, err
		}
	}
	return nil, fmt.Errorf("meta: loading metadata: %w", err)
}

func (s *EtcdStore) loadOnce(ctx context.Context) (*Snapshot, error) {
	snap := &Snapshot{Knobs: make(map[string]string)}
	tables := make(map[int32]int)
	var parts []StoredPartition
	var rev int64
	from, end := s.keys.apps(), clientv3.GetPrefixRangeEnd(s.keys.apps())
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(loadPageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return nil, fmt.Errorf("meta: loading metadata: %w", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			app, pidx, isPartition, err := s.keys.parseAppKey(key)
			if err != nil {
				return nil, err
			}
			if !isPartition {
				t, err := decodeTable(key, kv.Value)
				if err != nil {
					return nil, err
				}
				if t.AppID != app {
					return nil, fmt.Errorf("%w: %s holds app %d", ErrCorruptRecord, key, t.AppID)
				}
				tables[app] = len(snap.Tables)
				snap.Tables = append(snap.Tables, t)
				continue
			}
			c, err := decodePartition(key, decide.Gpid{AppID: app, Index: pidx}, kv.Value)
			if err != nil {
				return nil, err
			}
			parts = append(parts, StoredPartition{Config: c, Rev: kv.ModRevision})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	// Keys sort a table before its partitions, so every partition's table
	// is known here.
	for _, p := range parts {
		i, ok := tables[p.Config.Gpid.AppID]
		if !ok || snap.Tables[i].Status == TableDropped || p.Config.Gpid.Index >= snap.Tables[i].PartitionCount {
			return nil, fmt.Errorf("%w: partition %s has no live table", ErrCorruptRecord, p.Config.Gpid)
		}
	}
	snap.Partitions = parts
	resp, err := s.cli.Get(ctx, s.keys.knobs(), clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return nil, fmt.Errorf("meta: loading knobs: %w", err)
	}
	for _, kv := range resp.Kvs {
		snap.Knobs[s.keys.knobName(string(kv.Key))] = string(kv.Value)
	}
	return snap, nil
}

// CreateTable implements Store.
func (s *EtcdStore) CreateTable(ctx context.Context, t Table) (Table, error) {
	nameKey, nextKey := s.keys.name(t.Name), s.keys.nextAppID()
	// Only the leader allocates ids, one DDL at a time, so the compare on
	// next_app_id fails only if a deposed leader raced; a few attempts do.
	for range 5 {
		resp, err := s.cli.Get(ctx, nextKey)
		if err != nil {
			return Table{}, fmt.Errorf("meta: reading next_app_id: %w", err)
		}
		next, nextRev := int64(1), int64(0)
		if len(resp.Kvs) > 0 {
			nextRev = resp.Kvs[0].ModRevision
			if next, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 32); err != nil || next <= 0 {
				return Table{}, fmt.Errorf("%w: next_app_id %q", ErrCorruptRecord, resp.Kvs[0].Value)
			}
		}
		t.AppID = int32(next)
		cmps, elseOps := s.guarded(
			clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0),
			clientv3.Compare(clientv3.ModRevision(nextKey), "=", nextRev),
		)
		txn, err := s.cli.Txn(ctx).If(cmps...).Then(
			clientv3.OpPut(s.keys.table(t.AppID), string(encodeTable(t))),
			clientv3.OpPut(nameKey, strconv.Itoa(int(t.AppID))),
			clientv3.OpPut(nextKey, strconv.Itoa(int(t.AppID)+1)),
		).Else(append(elseOps, clientv3.OpGet(nameKey))...).Commit()
		if err != nil {
			return Table{}, fmt.Errorf("meta: creating table %s: %w", t.Name, err)
		}
		if txn.Succeeded {
			return t, nil
		}
		if s.fenceLost(txn) {
			return Table{}, s.lostErr()
		}
		if len(txn.Responses[len(txn.Responses)-1].GetResponseRange().Kvs) > 0 {
			return Table{}, fmt.Errorf("%w: %s", ErrTableExists, t.Name)
		}
	}
	return Table{}, fmt.Errorf("%w: next_app_id keeps changing", ErrConflict)
}

// CreatePartitions implements Store.
func (s *EtcdStore) CreatePartitions(ctx context.Context, parts []decide.PartitionConfig) ([]int64, error) {
	revs := make([]int64, 0, len(parts))
	for start := 0; start < len(parts); start += createChunk {
		chunk := parts[start:min(start+createChunk, len(parts))]
		extra := make([]clientv3.Cmp, 0, len(chunk))
		puts := make([]clientv3.Op, 0, len(chunk))
		for _, c := range chunk {
			if err := checkWritable(c); err != nil {
				return nil, err
			}
			k := s.keys.partition(c.Gpid)
			extra = append(extra, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
			puts = append(puts, clientv3.OpPut(k, string(encodePartition(c))))
		}
		cmps, elseOps := s.guarded(extra...)
		txn, err := s.cli.Txn(ctx).If(cmps...).Then(puts...).Else(elseOps...).Commit()
		if err != nil {
			return nil, fmt.Errorf("meta: creating partitions: %w", err)
		}
		if !txn.Succeeded {
			if s.fenceLost(txn) {
				return nil, s.lostErr()
			}
			return nil, fmt.Errorf("%w: a partition among %s..%s exists already", ErrConflict, chunk[0].Gpid, chunk[len(chunk)-1].Gpid)
		}
		for range chunk {
			revs = append(revs, txn.Header.Revision)
		}
	}
	return revs, nil
}

// UpdateTable implements Store.
func (s *EtcdStore) UpdateTable(ctx context.Context, t Table) error {
	k := s.keys.table(t.AppID)
	cmps, elseOps := s.guarded(clientv3.Compare(clientv3.CreateRevision(k), "!=", 0))
	txn, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(k, string(encodeTable(t)))).Else(elseOps...).Commit()
	if err != nil {
		return fmt.Errorf("meta: updating table %s: %w", t.Name, err)
	}
	if !txn.Succeeded {
		if s.fenceLost(txn) {
			return s.lostErr()
		}
		return fmt.Errorf("%w: %s (app %d)", ErrTableNotFound, t.Name, t.AppID)
	}
	return nil
}

// DropTable implements Store.
func (s *EtcdStore) DropTable(ctx context.Context, t Table) error {
	cmps, elseOps := s.guarded()
	txn, err := s.cli.Txn(ctx).If(cmps...).Then(
		clientv3.OpPut(s.keys.table(t.AppID), string(encodeTable(t))),
		clientv3.OpDelete(s.keys.name(t.Name)),
		clientv3.OpDelete(s.keys.partitionPrefix(t.AppID), clientv3.WithPrefix()),
	).Else(elseOps...).Commit()
	if err != nil {
		return fmt.Errorf("meta: dropping table %s: %w", t.Name, err)
	}
	if !txn.Succeeded {
		return s.lostErr()
	}
	return nil
}

// UpdatePartition implements Store.
func (s *EtcdStore) UpdatePartition(ctx context.Context, rev int64, next decide.PartitionConfig) (int64, error) {
	if err := checkWritable(next); err != nil {
		return 0, err
	}
	k := s.keys.partition(next.Gpid)
	cmps, elseOps := s.guarded(clientv3.Compare(clientv3.ModRevision(k), "=", rev))
	txn, err := s.cli.Txn(ctx).If(cmps...).
		Then(clientv3.OpPut(k, string(encodePartition(next)))).
		Else(append(elseOps, clientv3.OpGet(k))...).Commit()
	if err != nil {
		return 0, fmt.Errorf("meta: writing %s: %w", next.Gpid, err)
	}
	if txn.Succeeded {
		return txn.Header.Revision, nil
	}
	if s.fenceLost(txn) {
		return 0, s.lostErr()
	}
	kvs := txn.Responses[len(txn.Responses)-1].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return 0, &ConflictError{Current: decide.PartitionConfig{Gpid: next.Gpid}}
	}
	cur, err := decodePartition(k, next.Gpid, kvs[0].Value)
	if err != nil {
		return 0, err
	}
	return 0, &ConflictError{Current: cur, Rev: kvs[0].ModRevision, Exists: true}
}

// SetKnob implements Store.
func (s *EtcdStore) SetKnob(ctx context.Context, name, value string) error {
	op := clientv3.OpPut(s.keys.knob(name), value)
	if value == "" {
		op = clientv3.OpDelete(s.keys.knob(name))
	}
	cmps, elseOps := s.guarded()
	txn, err := s.cli.Txn(ctx).If(cmps...).Then(op).Else(elseOps...).Commit()
	if err != nil {
		return fmt.Errorf("meta: storing knob %s: %w", name, err)
	}
	if !txn.Succeeded {
		return s.lostErr()
	}
	return nil
}

// checkWritable refuses to store a configuration that Load would reject:
// one bad record must not keep every later leader from loading.
func checkWritable(c decide.PartitionConfig) error {
	if err := c.Check(); err != nil {
		return err
	}
	if c.Ballot < 0 {
		return fmt.Errorf("%w: %s: ballot %d", decide.ErrInvalidConfig, c.Gpid, c.Ballot)
	}
	return nil
}
