package storage

// Stats are a store's Pebble figures that an operator watches: write
// amplification work (compactions), read amplification (L0 files, which
// every read may have to consult), memory (memtables) and disk.
type Stats struct {
	// Compactions is the number of compactions since the store was opened.
	Compactions int64
	// L0Files is the number of sstables in level 0.
	L0Files int64
	// MemtableBytes is the memory held by memtables.
	MemtableBytes uint64
	// DiskBytes is the disk space the store uses: sstables, WAL, manifest,
	// and the output of compactions in progress.
	DiskBytes uint64
}

// Stats reads the store's figures; ErrClosed after Close.
func (s *Store) Stats() (Stats, error) {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return Stats{}, ErrClosed
	}
	m := s.db.Metrics()
	return Stats{
		Compactions:   m.Compact.Count,
		L0Files:       m.Levels[0].TablesCount,
		MemtableBytes: m.MemTable.Size,
		DiskBytes:     m.DiskSpaceUsage(),
	}, nil
}
