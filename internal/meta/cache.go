package meta

import (
	"fmt"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// cache is the leader's copy of the store: every table and every partition
// configuration with its store revision. Decisions read it; it changes only
// after the store accepted a write (or refused one and said what it
// holds), so it never runs ahead of the store.
//
// Values are immutable once in the cache: a change replaces a Table or a
// PartitionConfig, it never edits one, so configurations handed to pushes
// and replies may share memory with the cache.
type cache struct {
	tables map[int32]Table
	byName map[string]int32
	// layout holds the partitions of every table not dropped, indexed by
	// node (decide.Layout).
	layout *decide.Layout
	revs   map[decide.Gpid]int64
}

func newCache(snap *Snapshot) (*cache, error) {
	ca := &cache{
		tables: make(map[int32]Table, len(snap.Tables)),
		byName: make(map[string]int32, len(snap.Tables)),
		revs:   make(map[decide.Gpid]int64, len(snap.Partitions)),
	}
	for _, t := range snap.Tables {
		ca.tables[t.AppID] = t
		if t.Status != TableDropped {
			ca.byName[t.Name] = t.AppID
		}
	}
	configs := make([]decide.PartitionConfig, 0, len(snap.Partitions))
	for _, p := range snap.Partitions {
		if t, ok := ca.tables[p.Config.Gpid.AppID]; !ok || t.Status == TableDropped {
			return nil, fmt.Errorf("%w: partition %s has no live table", ErrCorruptRecord, p.Config.Gpid)
		}
		configs = append(configs, p.Config)
		ca.revs[p.Config.Gpid] = p.Rev
	}
	l, err := decide.NewLayout(configs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptRecord, err)
	}
	ca.layout = l
	return ca, nil
}

// config returns the cached configuration of g and its revision.
func (ca *cache) config(g decide.Gpid) (decide.PartitionConfig, int64, bool) {
	c, ok := ca.layout.Config(g)
	return c, ca.revs[g], ok
}

// set installs cfg at rev if rev is newer than what the cache holds. It
// reports whether it did.
func (ca *cache) set(cfg decide.PartitionConfig, rev int64) bool {
	old, ok := ca.revs[cfg.Gpid]
	if !ok || rev <= old {
		return false
	}
	if err := ca.layout.Set(cfg); err != nil {
		return false
	}
	ca.revs[cfg.Gpid] = rev
	return true
}

// addTable adds a table and its partitions (of which there may be none
// yet) and re-indexes the layout.
func (ca *cache) addTable(t Table, parts []decide.PartitionConfig, revs []int64) error {
	configs := ca.allConfigs(-1)
	for i, p := range parts {
		configs = append(configs, p)
		ca.revs[p.Gpid] = revs[i]
	}
	l, err := decide.NewLayout(configs)
	if err != nil {
		return err
	}
	ca.layout = l
	ca.tables[t.AppID] = t
	ca.byName[t.Name] = t.AppID
	return nil
}

// dropTable records t as dropped and forgets its partitions.
func (ca *cache) dropTable(t Table) {
	l, err := decide.NewLayout(ca.allConfigs(t.AppID))
	if err != nil {
		panic(err) // a subset of a valid layout is valid
	}
	ca.layout = l
	for g := range ca.revs {
		if g.AppID == t.AppID {
			delete(ca.revs, g)
		}
	}
	ca.tables[t.AppID] = t
	if ca.byName[t.Name] == t.AppID {
		delete(ca.byName, t.Name)
	}
}

// allConfigs copies the layout's configurations, except those of app
// skip, into a fresh slice for a new layout.
func (ca *cache) allConfigs(skip int32) []decide.PartitionConfig {
	out := make([]decide.PartitionConfig, 0, ca.layout.Len())
	for i := 0; i < ca.layout.Len(); i++ {
		if c := ca.layout.At(i); c.Gpid.AppID != skip {
			out = append(out, c)
		}
	}
	return out
}

// tableConfigs returns the partitions of app t that exist, in index order.
func (ca *cache) tableConfigs(t Table) []decide.PartitionConfig {
	out := make([]decide.PartitionConfig, 0, t.PartitionCount)
	for i := int32(0); i < t.PartitionCount; i++ {
		if c, ok := ca.layout.Config(decide.Gpid{AppID: t.AppID, Index: i}); ok {
			out = append(out, c)
		}
	}
	return out
}
