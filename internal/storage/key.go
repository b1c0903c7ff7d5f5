package storage

import (
	"encoding/binary"
	"fmt"
)

// MaxHashKeySize is the largest hash key, 65534 bytes. Pegasus requires the
// length to stay below 65535 (0xFFFF) so that it fits the u16 prefix with one
// value to spare; the store uses that spare value to keep its metadata apart
// from records.
const MaxHashKeySize = 0xFFFE

// keyLenSize is the size of the hash key length prefix of a record key.
const keyLenSize = 2

// metaKeyPrefix starts every metadata key. A record key starts with its hash
// key length, at most 0xFFFE, so no record key starts with 0xFF 0xFF.
var metaKeyPrefix = []byte{0xFF, 0xFF}

// recordKeysEnd is an exclusive upper bound of all record keys: the smallest
// key that is not a record key. Iterating [nil, recordKeysEnd) visits records
// and never metadata.
var recordKeysEnd = metaKeyPrefix

// EncodeKey returns the record key of (hashKey, sortKey):
// [len(hashKey) as u16 big-endian][hashKey][sortKey].
func EncodeKey(hashKey, sortKey []byte) ([]byte, error) {
	if err := checkHashKey(hashKey); err != nil {
		return nil, err
	}
	return appendKey(make([]byte, 0, keyLenSize+len(hashKey)+len(sortKey)), hashKey, sortKey), nil
}

// appendKey appends the record key of (hashKey, sortKey) to dst. The caller
// has checked the hash key length.
func appendKey(dst, hashKey, sortKey []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(hashKey)))
	dst = append(dst, hashKey...)
	return append(dst, sortKey...)
}

// DecodeKey splits a record key into its hash key and sort key. Both alias
// key. It fails with ErrInvalidKey on bytes EncodeKey cannot produce,
// including metadata keys.
func DecodeKey(key []byte) (hashKey, sortKey []byte, err error) {
	if len(key) < keyLenSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the length prefix", ErrInvalidKey, len(key))
	}
	n := int(binary.BigEndian.Uint16(key))
	if n > MaxHashKeySize {
		return nil, nil, fmt.Errorf("%w: hash key length %#x is reserved", ErrInvalidKey, n)
	}
	end := keyLenSize + n
	if end > len(key) {
		return nil, nil, fmt.Errorf("%w: hash key length %d exceeds the %d bytes that follow", ErrInvalidKey, n, len(key)-keyLenSize)
	}
	return key[keyLenSize:end:end], key[end:], nil
}

func checkHashKey(hashKey []byte) error {
	if len(hashKey) > MaxHashKeySize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrHashKeyTooLarge, len(hashKey), MaxHashKeySize)
	}
	return nil
}

// HashKeyBounds returns iterator bounds [lower, upper) that hold exactly the
// records of hashKey, every sort key included.
func HashKeyBounds(hashKey []byte) (lower, upper []byte, err error) {
	return AllSortKeys.Bounds(hashKey)
}

// SortKeyRange selects sort keys of one hash key, as Pegasus' multi_get and
// scanners do. An empty Start begins at the smallest sort key (the empty one,
// unless StartInclusive is false); an empty Stop runs to the last sort key of
// the hash key, whatever StopInclusive says.
type SortKeyRange struct {
	Start, Stop                   []byte
	StartInclusive, StopInclusive bool
}

// AllSortKeys selects every sort key of a hash key.
var AllSortKeys = SortKeyRange{StartInclusive: true}

// Bounds returns iterator bounds [lower, upper) for the range within hashKey.
// lower >= upper means the range is empty (for instance Start > Stop).
func (r SortKeyRange) Bounds(hashKey []byte) (lower, upper []byte, err error) {
	if err := checkHashKey(hashKey); err != nil {
		return nil, nil, err
	}
	lower = appendKey(nil, hashKey, r.Start)
	if !r.StartInclusive {
		lower = append(lower, 0)
	}
	if len(r.Stop) == 0 {
		upper = prefixEnd(appendKey(nil, hashKey, nil))
	} else {
		upper = appendKey(nil, hashKey, r.Stop)
		if r.StopInclusive {
			upper = append(upper, 0)
		}
	}
	return lower, upper, nil
}

// After returns the part of r strictly after sortKey: where a page that
// stopped at sortKey resumes.
func (r SortKeyRange) After(sortKey []byte) SortKeyRange {
	r.Start = sortKey
	r.StartInclusive = false
	return r
}

// prefixEnd returns the smallest key greater than every key that starts with
// prefix. A record key prefix always holds a byte below 0xFF (its length
// prefix is at most 0xFFFE), so the result exists.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	panic("storage: prefixEnd of an all-0xFF prefix")
}
