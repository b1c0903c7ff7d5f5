package storage

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Default bounds of multi-record reads, Pegasus' defaults
// (rocksdb_multi_get_max_iteration_count and _size).
const (
	DefaultReadMaxCount   = 3000
	DefaultReadMaxBytes   = 30 << 20
	DefaultReadMaxScanned = 3000
)

// ReadOptions bound a multi-record read. A read stops after the record that
// reaches any bound and reports that more may follow; it always returns at
// least one record when one is in range, so a pager always progresses.
type ReadOptions struct {
	// MaxCount bounds the records returned; zero means DefaultReadMaxCount.
	MaxCount int
	// MaxBytes bounds the sort key and value bytes returned; zero means
	// DefaultReadMaxBytes.
	MaxBytes int
	// MaxScanned bounds the records visited, expired ones included, so that
	// a range full of expired records cannot make one read unbounded; zero
	// means max(DefaultReadMaxScanned, MaxCount).
	MaxScanned int
	// NoValue returns sort keys only.
	NoValue bool
}

func (o ReadOptions) withDefaults() ReadOptions {
	if o.MaxCount <= 0 {
		o.MaxCount = DefaultReadMaxCount
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultReadMaxBytes
	}
	if o.MaxScanned <= 0 {
		o.MaxScanned = max(DefaultReadMaxScanned, o.MaxCount)
	}
	return o
}

// readNow is the time reads judge expiry by, in Pegasus seconds: the wall
// clock, but never behind the apply clock. Without the floor, a node whose
// clock lags the primary's could show a record that DropExpired, trusting
// the apply clock, may already have deleted on another replica.
func (s *Store) readNow() uint32 {
	return max(PegasusSeconds(s.opts.Clock().Unix()), s.applyClock.Load())
}

// Get returns the value of a live record, or ErrNotFound.
func (s *Store) Get(hashKey, sortKey []byte) ([]byte, error) {
	var value []byte
	err := s.getRecord(hashKey, sortKey, func(_ uint32, user []byte) {
		value = append(make([]byte, 0, len(user)), user...)
	})
	return value, err
}

// Exist reports whether a live record exists.
func (s *Store) Exist(hashKey, sortKey []byte) (bool, error) {
	err := s.getRecord(hashKey, sortKey, func(uint32, []byte) {})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// TTL returns the seconds a live record has left, -1 if it never expires, or
// ErrNotFound.
func (s *Store) TTL(hashKey, sortKey []byte) (int64, error) {
	var ttl int64
	now := s.readNow()
	err := s.getRecordAt(hashKey, sortKey, now, func(expireTS uint32, _ []byte) {
		ttl = remainingTTL(expireTS, now)
	})
	return ttl, err
}

func (s *Store) getRecord(hashKey, sortKey []byte, found func(expireTS uint32, user []byte)) error {
	return s.getRecordAt(hashKey, sortKey, s.readNow(), found)
}

// getRecordAt calls found with a live record's expire_ts and user value (valid
// only during the call), or returns ErrNotFound.
func (s *Store) getRecordAt(hashKey, sortKey []byte, now uint32, found func(expireTS uint32, user []byte)) error {
	if err := checkHashKey(hashKey); err != nil {
		return err
	}
	var buf [128]byte
	key := appendKey(buf[:0], hashKey, sortKey)
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return ErrClosed
	}
	raw, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("storage: get: %w", err)
	}
	defer closer.Close()
	expireTS, user, err := decodeValue(raw)
	if err != nil {
		return err
	}
	if isExpired(expireTS, now) {
		return ErrNotFound
	}
	found(expireTS, user)
	return nil
}

// MultiGet returns the live records of hashKey under sortKeys, in the order
// given and skipping absent ones; with no sort keys it returns the records of
// every sort key in order (a Scan of AllSortKeys). complete is false when a
// bound of o cut the answer short.
func (s *Store) MultiGet(hashKey []byte, sortKeys [][]byte, o ReadOptions) (kvs []KV, complete bool, err error) {
	if len(sortKeys) == 0 {
		page, err := s.Scan(hashKey, AllSortKeys, o)
		return page.KVs, !page.More, err
	}
	o = o.withDefaults()
	now := s.readNow()
	size := 0
	for i, sk := range sortKeys {
		if len(kvs) >= o.MaxCount || size >= o.MaxBytes || i >= o.MaxScanned {
			return kvs, false, nil
		}
		err := s.getRecordAt(hashKey, sk, now, func(_ uint32, user []byte) {
			kv := KV{SortKey: append([]byte(nil), sk...)}
			if !o.NoValue {
				kv.Value = append(make([]byte, 0, len(user)), user...)
			}
			kvs = append(kvs, kv)
			size += len(kv.SortKey) + len(kv.Value)
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
	}
	return kvs, true, nil
}

// ScanPage is one page of a Scan.
type ScanPage struct {
	// KVs are the live records of the page, in sort key order.
	KVs []KV
	// More reports that the range may hold further records; Next is the
	// rest of the range, to pass to the next Scan.
	More bool
	Next SortKeyRange
}

// Scan returns the live records of hashKey within r, in sort key order, up
// to the bounds of o.
func (s *Store) Scan(hashKey []byte, r SortKeyRange, o ReadOptions) (ScanPage, error) {
	lower, upper, err := r.Bounds(hashKey)
	if err != nil {
		return ScanPage{}, err
	}
	var page ScanPage
	sortKeyAt := keyLenSize + len(hashKey)
	resume, err := s.readRange(lower, upper, o.withDefaults(), func(key []byte, _ uint32, user []byte) (int, error) {
		kv := KV{SortKey: append([]byte(nil), key[sortKeyAt:]...)}
		if !o.NoValue {
			kv.Value = append(make([]byte, 0, len(user)), user...)
		}
		page.KVs = append(page.KVs, kv)
		return len(kv.SortKey) + len(kv.Value), nil
	})
	if err != nil {
		return ScanPage{}, err
	}
	if resume != nil {
		page.More = true
		page.Next = r.After(resume[sortKeyAt:])
	}
	return page, nil
}

// SortKeyCount returns the number of live records of hashKey. It visits
// every record of the hash key.
func (s *Store) SortKeyCount(hashKey []byte) (int64, error) {
	lower, upper, err := HashKeyBounds(hashKey)
	if err != nil {
		return 0, err
	}
	var n int64
	o := ReadOptions{MaxCount: -1, MaxBytes: -1, MaxScanned: -1}
	_, err = s.readRange(lower, upper, o, func([]byte, uint32, []byte) (int, error) {
		n++
		return 0, nil
	})
	return n, err
}

// Record is a record returned by FullScan.
type Record struct {
	HashKey, SortKey, Value []byte
	// ExpireTS is the expiry in Pegasus seconds, 0 for none.
	ExpireTS uint32
}

// FullScan returns live records of every hash key in key order, starting
// after cursor (nil: at the first record), up to the bounds of o. next is the
// cursor of the following page, nil when the scan is done. A cursor is an
// encoded record key.
func (s *Store) FullScan(cursor []byte, o ReadOptions) (records []Record, next []byte, err error) {
	var lower []byte
	if cursor != nil {
		if _, _, err := DecodeKey(cursor); err != nil {
			return nil, nil, fmt.Errorf("storage: scan cursor: %w", err)
		}
		lower = append(append(make([]byte, 0, len(cursor)+1), cursor...), 0)
	}
	next, err = s.readRange(lower, recordKeysEnd, o.withDefaults(), func(key []byte, expireTS uint32, user []byte) (int, error) {
		hashKey, sortKey, err := DecodeKey(key)
		if err != nil {
			return 0, fmt.Errorf("%w: record key %x: %v", ErrCorrupt, key, err)
		}
		rec := Record{HashKey: bytes.Clone(hashKey), SortKey: bytes.Clone(sortKey), ExpireTS: expireTS}
		if !o.NoValue {
			rec.Value = append(make([]byte, 0, len(user)), user...)
		}
		records = append(records, rec)
		return len(rec.HashKey) + len(rec.SortKey) + len(rec.Value), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return records, next, nil
}

// readRange visits the live records in [lower, upper) in key order, calling
// emit with each record's key, expire_ts and user value (valid only during
// the call); emit returns the bytes it accounts for. Negative bounds in o
// mean unbounded. When a bound stops the visit with records left in range, it
// returns a copy of the last visited key, from which the next page resumes;
// otherwise nil.
func (s *Store) readRange(lower, upper []byte, o ReadOptions, emit func(key []byte, expireTS uint32, user []byte) (int, error)) (resume []byte, err error) {
	if lower != nil && bytes.Compare(lower, upper) >= 0 {
		return nil, nil
	}
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	now := s.readNow()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("storage: new iterator: %w", err)
	}
	defer it.Close()
	count, size, scanned := 0, 0, 0
	for valid := it.First(); valid; valid = it.Next() {
		raw, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("storage: read value: %w", err)
		}
		expireTS, user, err := decodeValue(raw)
		if err != nil {
			return nil, err
		}
		scanned++
		if !isExpired(expireTS, now) {
			n, err := emit(it.Key(), expireTS, user)
			if err != nil {
				return nil, err
			}
			count++
			size += n
		}
		if reached(count, o.MaxCount) || reached(size, o.MaxBytes) || reached(scanned, o.MaxScanned) {
			last := bytes.Clone(it.Key())
			if it.Next() {
				return last, nil
			}
			break
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("storage: iterate: %w", err)
	}
	return nil, nil
}

func reached(n, bound int) bool { return bound >= 0 && n >= bound }
