package redisproxy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// DEL key [key ...]
//
// Pegasus' delete does not say whether the record existed, so each key is
// checked first and deleted then, all keys concurrently. The count is exact
// unless another client creates or deletes one of the keys between the two
// steps; the keys are deleted either way. A key named twice counts once,
// as in Redis.
func cmdDel(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	keys := distinct(args[1:])
	var deleted atomic.Int64
	err := fanOut(ctx, len(keys), func(ctx context.Context, i int) error {
		existed, err := s.backend.Exist(ctx, keys[i])
		if err != nil || !existed {
			return err
		}
		if err := s.backend.Del(ctx, keys[i]); err != nil {
			return err
		}
		deleted.Add(1)
		return nil
	})
	if err != nil {
		return appendError(out, err)
	}
	return redcon.AppendInt(out, deleted.Load())
}

// EXISTS key [key ...]
//
// A key named several times counts as many times, as in Redis.
func cmdExists(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	keys := args[1:]
	var existing atomic.Int64
	err := fanOut(ctx, len(keys), func(ctx context.Context, i int) error {
		ok, err := s.backend.Exist(ctx, keys[i])
		if ok {
			existing.Add(1)
		}
		return err
	})
	if err != nil {
		return appendError(out, err)
	}
	return redcon.AppendInt(out, existing.Load())
}

// TTL key: seconds left, -1 without TTL, -2 for a missing key.
func cmdTTL(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	return appendTTL(ctx, s, args[1], time.Second, out)
}

// PTTL key: as TTL, in milliseconds. Pegasus keeps whole seconds, so the
// answer is always a multiple of 1000.
func cmdPTTL(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	return appendTTL(ctx, s, args[1], time.Millisecond, out)
}

func appendTTL(ctx context.Context, s *Server, key []byte, unit time.Duration, out []byte) []byte {
	ttl, found, err := s.backend.TTL(ctx, key)
	switch {
	case err != nil:
		return appendError(out, err)
	case !found:
		return redcon.AppendInt(out, -2)
	case ttl == NoTTL:
		return redcon.AppendInt(out, -1)
	}
	return redcon.AppendInt(out, int64(ttl/unit))
}

// expireAttempts bounds how often EXPIRE retries its compare-and-set when
// other clients keep changing the key.
const expireAttempts = 5

// EXPIRE key seconds
//
// Pegasus cannot change a record's TTL in place, so EXPIRE rewrites the
// record: it reads the value, then writes the same value with the new TTL
// through check_and_set with CT_VALUE_BYTES_EQUAL on the value it read. A
// write of a different value in between makes the check fail and EXPIRE
// starts over, so EXPIRE never resurrects or overwrites a value it did not
// see; its effect is that of an EXPIRE executed at the moment of the
// check_and_set. A non-positive TTL deletes the key, as in Redis; that path
// is a check followed by a delete, so its 0/1 answer can be wrong under a
// concurrent write of the key.
func cmdExpire(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	if len(args) > 3 {
		return redcon.AppendError(out, msgExpireOptions)
	}
	secs, ok := parseInt(args[2])
	switch {
	case !ok:
		return redcon.AppendError(out, msgNotInteger)
	case secs <= 0:
		return expireNow(ctx, s, args[1], out)
	case secs > maxTTLSeconds:
		return redcon.AppendError(out, "ERR invalid expire time in 'expire' command")
	}
	ttl := time.Duration(secs) * time.Second
	for range expireAttempts {
		value, found, err := s.backend.Get(ctx, args[1])
		switch {
		case err != nil:
			return appendError(out, err)
		case !found:
			return redcon.AppendInt(out, 0)
		}
		applied, err := s.backend.SetIf(ctx, args[1], Condition{Kind: IfEqual, Value: value}, value, ttl)
		switch {
		case err != nil:
			return appendError(out, err)
		case applied:
			return redcon.AppendInt(out, 1)
		}
	}
	return appendError(out, fmt.Errorf("%w: gave up after %d attempts", ErrConcurrentUpdate, expireAttempts))
}

// expireNow is EXPIRE with a TTL that has already passed: the key goes.
func expireNow(ctx context.Context, s *Server, key []byte, out []byte) []byte {
	existed, err := s.backend.Exist(ctx, key)
	if err == nil && existed {
		err = s.backend.Del(ctx, key)
	}
	switch {
	case err != nil:
		return appendError(out, err)
	case !existed:
		return redcon.AppendInt(out, 0)
	}
	return redcon.AppendInt(out, 1)
}

// distinct returns keys without repetitions, in first-seen order.
func distinct(keys [][]byte) [][]byte {
	if len(keys) < 2 {
		return keys
	}
	seen := make(map[string]bool, len(keys))
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	return out
}
