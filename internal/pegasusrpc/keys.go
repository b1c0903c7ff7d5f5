package pegasusrpc

import (
	"encoding/binary"
	"fmt"
	"hash/crc64"
)

// Pegasus keys and routing.
//
// A full key on the wire (update_request.key, get/remove/ttl arguments,
// scanner bounds) is
//
//	u16 big-endian len(hash_key) | hash_key | sort_key
//
// and a record is routed by a CRC-64 of its hash key:
// partition_index = hash % partition_count. The server recomputes the same
// hash to reject requests that reached the wrong partition, so every
// implementation must agree on it bit for bit.

// maxHashKeyLen is the largest hash key the u16 length prefix can express.
const maxHashKeyLen = 1<<16 - 1

// crc64Poly is the reversed (LSB-first) CRC-64 polynomial used by rDSN
// (src/utils/crc.cpp), the Go client (crc64.MakeTable(0x9a6c9329ac4bc9b5))
// and the Java client (Tools.dsn_crc64). It is NOT crc64.ECMA
// (0xc96c5795d7870f42) nor crc64.ISO: using either would send every key to
// a different partition than the official clients do. The checksum is the
// usual reflected form with all-ones initial value and final inversion,
// which is exactly what hash/crc64 computes for a given table.
const crc64Poly = 0x9a6c9329ac4bc9b5

var crc64Table = crc64.MakeTable(crc64Poly)

// EncodeKey returns the full key for hashKey and sortKey.
func EncodeKey(hashKey, sortKey []byte) ([]byte, error) {
	return AppendKey(make([]byte, 0, 2+len(hashKey)+len(sortKey)), hashKey, sortKey)
}

// AppendKey appends the full key for hashKey and sortKey to b. Hash keys
// longer than 65535 bytes cannot be encoded.
func AppendKey(b, hashKey, sortKey []byte) ([]byte, error) {
	if len(hashKey) > maxHashKeyLen {
		return b, fmt.Errorf("%w: hash key of %d bytes exceeds %d", ErrInvalidKey, len(hashKey), maxHashKeyLen)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(hashKey)))
	b = append(b, hashKey...)
	return append(b, sortKey...), nil
}

// DecodeKey splits a full key into hash key and sort key; both alias key.
func DecodeKey(key []byte) (hashKey, sortKey []byte, err error) {
	if len(key) < 2 {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the length prefix", ErrInvalidKey, len(key))
	}
	n := int(binary.BigEndian.Uint16(key))
	if 2+n > len(key) {
		return nil, nil, fmt.Errorf("%w: hash key length %d exceeds the %d bytes that follow", ErrInvalidKey, n, len(key)-2)
	}
	return key[2 : 2+n], key[2+n:], nil
}

// HashKeyHash is the partition hash of a hash key: what clients put in the
// request header's partition_hash for every single-hash-key operation.
func HashKeyHash(hashKey []byte) uint64 {
	return crc64.Checksum(hashKey, crc64Table)
}

// KeyHash is the partition hash of a full key, as the server's
// pegasus_key_hash computes it: the hash of the hash key, or, when the hash
// key is empty, the hash of the sort key (so that records written with an
// empty hash key still spread over partitions).
func KeyHash(key []byte) (uint64, error) {
	hashKey, sortKey, err := DecodeKey(key)
	if err != nil {
		return 0, err
	}
	if len(hashKey) == 0 {
		return HashKeyHash(sortKey), nil
	}
	return HashKeyHash(hashKey), nil
}

// PartitionIndex maps a partition hash to a partition of a table with
// partitionCount partitions. Counts are powers of two, so this equals the
// server's hash & (partitionCount-1). A non-positive count yields -1, which
// names no partition.
func PartitionIndex(hash uint64, partitionCount int32) int32 {
	if partitionCount <= 0 {
		return -1
	}
	return int32(hash % uint64(partitionCount))
}

// IsPowerOfTwo reports whether n is a positive power of two. The Go client
// refuses a table whose partition count is not a power of two, or is 1.
func IsPowerOfTwo(n int32) bool { return n > 0 && n&(n-1) == 0 }
