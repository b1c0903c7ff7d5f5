package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PegasusEpochUnix is 2016-01-01T00:00:00Z in Unix seconds: the epoch of the
// expire_ts stored in front of every value.
const PegasusEpochUnix = 1451606400

// valueHeaderSize is the size of the expire_ts header of a stored value.
const valueHeaderSize = 4

// PegasusSeconds converts Unix seconds to seconds since PegasusEpochUnix,
// clamped to the uint32 range (times before 2016 map to 0).
func PegasusSeconds(unixSeconds int64) uint32 {
	if unixSeconds <= PegasusEpochUnix {
		return 0
	}
	return uint32(min(unixSeconds-PegasusEpochUnix, math.MaxUint32))
}

// appendValue appends the stored form of a user value (value schema v0):
// [expireTS u32 big-endian][user].
func appendValue(dst []byte, expireTS uint32, user []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, expireTS)
	return append(dst, user...)
}

// decodeValue splits a stored value into its expire_ts and user value; user
// aliases raw. Only a value shorter than its header is malformed.
func decodeValue(raw []byte) (expireTS uint32, user []byte, err error) {
	if len(raw) < valueHeaderSize {
		return 0, nil, fmt.Errorf("%w: stored value of %d bytes has no expire_ts header", ErrCorrupt, len(raw))
	}
	return binary.BigEndian.Uint32(raw), raw[valueHeaderSize:], nil
}

// isExpired reports whether a record with expireTS is dead at now (both in
// Pegasus seconds). The boundary is Pegasus': a record expiring at t is gone
// at t.
func isExpired(expireTS, now uint32) bool {
	return expireTS != 0 && expireTS <= now
}

// expireAt returns the expire_ts of a record written at now with a TTL of
// ttlSeconds > 0, saturating rather than wrapping at the end of the uint32
// range (in 2152).
func expireAt(now uint32, ttlSeconds int32) uint32 {
	return uint32(min(uint64(now)+uint64(ttlSeconds), math.MaxUint32))
}

// remainingTTL returns the seconds a record with expireTS has left at now, or
// -1 if it never expires. The caller has checked that it is not expired.
func remainingTTL(expireTS, now uint32) int64 {
	if expireTS == 0 {
		return -1
	}
	return int64(expireTS) - int64(now)
}
