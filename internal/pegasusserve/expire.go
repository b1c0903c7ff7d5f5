package pegasusserve

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// Pegasus clients send expiry as an absolute time, expire_ts_seconds,
// counted from 2016-01-01 (pegasusrpc.ExpireEpochUnix), 0 for "never";
// our replica takes a time to live relative to the write. The conversions
// below read the translator's clock, which is the replica's host clock:
// the listener runs in the replica server's process.

// pegasusNow is now in Pegasus expire seconds.
func pegasusNow(now time.Time) int64 {
	return now.Unix() - pegasusrpc.ExpireEpochUnix
}

// ttlFromExpire converts the expire time of a put, multi_put or
// check_and_set. expired reports a time already past: Pegasus would write
// a record that no read can see, which is a delete.
func ttlFromExpire(expireTS int32, now time.Time) (ttl int32, expired bool) {
	if expireTS <= 0 {
		// 0 is "never expires". Clients never send a negative time; the
		// C++ server would read one as a far-future unsigned time, so it
		// is not an expiry either.
		return 0, false
	}
	left := int64(expireTS) - pegasusNow(now)
	if left <= 0 {
		return 0, true
	}
	return int32(left), false
}

// incrTTL converts incr's expire_ts_seconds, whose 0 keeps the record's
// current expiry and whose negative values remove it (rrdb.thrift).
//
// A time already past cannot be expressed: the increment must still
// happen and return its value, and our replica has no way to write it
// already expired. It is written to expire in one second, the smallest TTL
// there is; check_and_set's set does the same (casTTL).
func incrTTL(expireTS int32, now time.Time) int32 {
	switch {
	case expireTS == 0:
		return 0
	case expireTS < 0:
		return -1
	}
	ttl, expired := ttlFromExpire(expireTS, now)
	if expired {
		return 1
	}
	return ttl
}

// casTTL converts check_and_set's set_expire_ts_seconds (0 = never).
func casTTL(expireTS int32, now time.Time) int32 {
	ttl, expired := ttlFromExpire(expireTS, now)
	if expired {
		return 1
	}
	return ttl
}

// expireFromTTL is the inverse, for scans that return expire times: ttl
// -1 (no expiry) is 0.
func expireFromTTL(ttl int32, now time.Time) int32 {
	if ttl < 0 {
		return 0
	}
	return int32(pegasusNow(now) + int64(ttl))
}
