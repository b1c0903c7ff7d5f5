package meta

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// MemStore keeps the metadata in memory with the semantics of EtcdStore:
// one global revision counter, compare-and-swap on a record's revision,
// and fencing by leadership term. Driver tests and the simulation
// benchmark run on it; it is not durable.
type MemStore struct {
	mu        sync.Mutex
	rev       int64
	term      uint64
	tables    map[int32]Table
	names     map[string]int32
	nextAppID int32
	parts     map[decide.Gpid]StoredPartition
	knobs     map[string]string
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		tables:    make(map[int32]Table),
		names:     make(map[string]int32),
		nextAppID: 1,
		parts:     make(map[decide.Gpid]StoredPartition),
		knobs:     make(map[string]string),
	}
}

// Term starts a new leadership term and returns its Store. Stores of
// earlier terms fail every write with ErrLostLeadership from then on, as
// an EtcdStore does once its election key is gone.
func (m *MemStore) Term() Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.term++
	return &memTerm{m: m, term: m.term}
}

type memTerm struct {
	m    *MemStore
	term uint64
}

// lock takes the store's lock for a write of this term.
func (t *memTerm) lock() error {
	t.m.mu.Lock()
	if t.m.term != t.term {
		t.m.mu.Unlock()
		return fmt.Errorf("%w: term %d ended, term %d leads", ErrLostLeadership, t.term, t.m.term)
	}
	return nil
}

func (t *memTerm) Load(ctx context.Context) (*Snapshot, error) { return t.m.Load(ctx) }

// Load returns the store's content; reading needs no term.
func (m *MemStore) Load(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := &Snapshot{Knobs: maps.Clone(m.knobs)}
	for _, tb := range m.tables {
		snap.Tables = append(snap.Tables, tb.Clone())
	}
	slices.SortFunc(snap.Tables, func(a, b Table) int { return cmp.Compare(a.AppID, b.AppID) })
	snap.Partitions = make([]StoredPartition, 0, len(m.parts))
	for _, p := range m.parts {
		snap.Partitions = append(snap.Partitions, StoredPartition{Config: p.Config.Clone(), Rev: p.Rev})
	}
	slices.SortFunc(snap.Partitions, func(a, b StoredPartition) int { return a.Config.Gpid.Compare(b.Config.Gpid) })
	return snap, nil
}

func (t *memTerm) CreateTable(ctx context.Context, tb Table) (Table, error) {
	if err := t.lock(); err != nil {
		return Table{}, err
	}
	m := t.m
	defer m.mu.Unlock()
	if _, ok := m.names[tb.Name]; ok {
		return Table{}, fmt.Errorf("%w: %s", ErrTableExists, tb.Name)
	}
	tb.AppID = m.nextAppID
	m.nextAppID++
	m.rev++
	m.tables[tb.AppID] = tb.Clone()
	m.names[tb.Name] = tb.AppID
	return tb, nil
}

func (t *memTerm) CreatePartitions(ctx context.Context, parts []decide.PartitionConfig) ([]int64, error) {
	if err := t.lock(); err != nil {
		return nil, err
	}
	m := t.m
	defer m.mu.Unlock()
	for _, c := range parts {
		if err := checkWritable(c); err != nil {
			return nil, err
		}
		if _, ok := m.parts[c.Gpid]; ok {
			return nil, fmt.Errorf("%w: partition %s exists already", ErrConflict, c.Gpid)
		}
	}
	m.rev++
	revs := make([]int64, len(parts))
	for i, c := range parts {
		m.parts[c.Gpid] = StoredPartition{Config: c.Clone(), Rev: m.rev}
		revs[i] = m.rev
	}
	return revs, nil
}

func (t *memTerm) UpdateTable(ctx context.Context, tb Table) error {
	if err := t.lock(); err != nil {
		return err
	}
	m := t.m
	defer m.mu.Unlock()
	if _, ok := m.tables[tb.AppID]; !ok {
		return fmt.Errorf("%w: %s (app %d)", ErrTableNotFound, tb.Name, tb.AppID)
	}
	m.rev++
	m.tables[tb.AppID] = tb.Clone()
	return nil
}

func (t *memTerm) DropTable(ctx context.Context, tb Table) error {
	if err := t.lock(); err != nil {
		return err
	}
	m := t.m
	defer m.mu.Unlock()
	m.rev++
	m.tables[tb.AppID] = tb.Clone()
	if m.names[tb.Name] == tb.AppID {
		delete(m.names, tb.Name)
	}
	for g := range m.parts {
		if g.AppID == tb.AppID {
			delete(m.parts, g)
		}
	}
	return nil
}

func (t *memTerm) UpdatePartition(ctx context.Context, rev int64, next decide.PartitionConfig) (int64, error) {
	if err := checkWritable(next); err != nil {
		return 0, err
	}
	if err := t.lock(); err != nil {
		return 0, err
	}
	m := t.m
	defer m.mu.Unlock()
	cur, ok := m.parts[next.Gpid]
	if !ok {
		return 0, &ConflictError{Current: decide.PartitionConfig{Gpid: next.Gpid}}
	}
	if cur.Rev != rev {
		return 0, &ConflictError{Current: cur.Config.Clone(), Rev: cur.Rev, Exists: true}
	}
	m.rev++
	m.parts[next.Gpid] = StoredPartition{Config: next.Clone(), Rev: m.rev}
	return m.rev, nil
}

func (t *memTerm) SetKnob(ctx context.Context, name, value string) error {
	if err := t.lock(); err != nil {
		return err
	}
	m := t.m
	defer m.mu.Unlock()
	m.rev++
	if value == "" {
		delete(m.knobs, name)
	} else {
		m.knobs[name] = value
	}
	return nil
}
