package redisproxy

import (
	"context"
	"math"
	"time"

	"github.com/tidwall/redcon"
)

// GET key
func cmdGet(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	v, found, err := s.backend.Get(ctx, args[1])
	switch {
	case err != nil:
		return appendError(out, err)
	case !found:
		return redcon.AppendNull(out)
	}
	return redcon.AppendBulk(out, v)
}

// setOptions are the options of SET this proxy serves.
type setOptions struct {
	ttl time.Duration // 0 = no TTL
	// cond is IfAbsent for NX, IfPresent for XX, 0 for neither.
	cond ConditionKind
}

// parseSetOptions parses SET's options after the value, Redis style: each
// option at most once, NX excludes XX, EX excludes PX. It returns the error
// reply on failure.
func parseSetOptions(opts [][]byte) (setOptions, string) {
	var o setOptions
	var haveTTL bool
	for i := 0; i < len(opts); i++ {
		switch opt := string(opts[i]); {
		case equalFold(opt, "nx") && o.cond == 0:
			o.cond = IfAbsent
		case equalFold(opt, "xx") && o.cond == 0:
			o.cond = IfPresent
		case (equalFold(opt, "ex") || equalFold(opt, "px")) && !haveTTL:
			if i+1 == len(opts) {
				return o, msgSyntax
			}
			unit := time.Second
			if equalFold(opt, "px") {
				unit = time.Millisecond
			}
			ttl, msg := parseTTL(opts[i+1], unit, "set")
			if msg != "" {
				return o, msg
			}
			o.ttl, haveTTL = ttl, true
			i++
		case equalFold(opt, "get") || equalFold(opt, "keepttl") || equalFold(opt, "exat") || equalFold(opt, "pxat"):
			// Each needs the old record read and rewritten in one step,
			// which Pegasus' check_and_set cannot express.
			return o, "ERR SET option " + upper(opt) + " is not supported by this proxy"
		default:
			return o, msgSyntax
		}
	}
	return o, ""
}

// SET key value [NX|XX] [EX seconds|PX milliseconds]
//
// NX and XX map to Pegasus check_and_set with CT_VALUE_NOT_EXIST and
// CT_VALUE_EXIST, so the check and the write are atomic on the primary.
// PX is rounded up to whole seconds, Pegasus' TTL resolution.
func cmdSet(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	o, msg := parseSetOptions(args[3:])
	if msg != "" {
		return redcon.AppendError(out, msg)
	}
	if o.cond == 0 {
		if err := s.backend.Set(ctx, args[1], args[2], o.ttl); err != nil {
			return appendError(out, err)
		}
		return redcon.AppendOK(out)
	}
	applied, err := s.backend.SetIf(ctx, args[1], Condition{Kind: o.cond}, args[2], o.ttl)
	switch {
	case err != nil:
		return appendError(out, err)
	case !applied:
		return redcon.AppendNull(out)
	}
	return redcon.AppendOK(out)
}

// SETEX key seconds value
func cmdSetEx(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	ttl, msg := parseTTL(args[2], time.Second, "setex")
	if msg != "" {
		return redcon.AppendError(out, msg)
	}
	if err := s.backend.Set(ctx, args[1], args[3], ttl); err != nil {
		return appendError(out, err)
	}
	return redcon.AppendOK(out)
}

// MGET key [key ...]
//
// The keys live in different partitions, usually on different servers, so
// they are read concurrently; the reply keeps the order of the keys. Any
// failed read fails the whole command, as a partial answer would be taken
// for missing keys.
func cmdMGet(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	keys := args[1:]
	values := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	err := fanOut(ctx, len(keys), func(ctx context.Context, i int) error {
		var err error
		values[i], found[i], err = s.backend.Get(ctx, keys[i])
		return err
	})
	if err != nil {
		return appendError(out, err)
	}
	out = redcon.AppendArray(out, len(keys))
	for i, v := range values {
		if found[i] {
			out = redcon.AppendBulk(out, v)
		} else {
			out = redcon.AppendNull(out)
		}
	}
	return out
}

// MSET key value [key value ...]
//
// The writes go out concurrently, one Pegasus set per key. Unlike Redis,
// MSET is not atomic across keys: the keys live in different partitions. On
// an error some keys may have been written; each key on its own is either
// old or new, never torn. A later key of the same command wins over an
// earlier duplicate, as in Redis.
func cmdMSet(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	if len(args)%2 == 0 {
		return appendWrongArity(out, "mset")
	}
	pairs := lastPairPerKey(args[1:])
	err := fanOut(ctx, len(pairs), func(ctx context.Context, i int) error {
		return s.backend.Set(ctx, pairs[i][0], pairs[i][1], 0)
	})
	if err != nil {
		return appendError(out, err)
	}
	return redcon.AppendOK(out)
}

// lastPairPerKey returns the key-value pairs of kvs (key, value, key,
// value, ...) keeping only the last value of a repeated key: concurrent
// writes of one key would otherwise race.
func lastPairPerKey(kvs [][]byte) [][2][]byte {
	pairs := make([][2][]byte, 0, len(kvs)/2)
	index := make(map[string]int, len(kvs)/2)
	for i := 0; i+1 < len(kvs); i += 2 {
		if j, ok := index[string(kvs[i])]; ok {
			pairs[j][1] = kvs[i+1]
			continue
		}
		index[string(kvs[i])] = len(pairs)
		pairs = append(pairs, [2][]byte{kvs[i], kvs[i+1]})
	}
	return pairs
}

// INCR key
func cmdIncr(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	return incrBy(ctx, s, args[1], 1, out)
}

// DECR key
func cmdDecr(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	return incrBy(ctx, s, args[1], -1, out)
}

// INCRBY key increment
func cmdIncrBy(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	delta, ok := parseInt(args[2])
	if !ok {
		return redcon.AppendError(out, msgNotInteger)
	}
	return incrBy(ctx, s, args[1], delta, out)
}

// DECRBY key decrement
func cmdDecrBy(ctx context.Context, s *Server, args [][]byte, out []byte) []byte {
	delta, ok := parseInt(args[2])
	if !ok {
		return redcon.AppendError(out, msgNotInteger)
	}
	if delta == math.MinInt64 {
		return redcon.AppendError(out, msgDecrOverflow)
	}
	return incrBy(ctx, s, args[1], -delta, out)
}

// incrBy maps the INCR family onto Pegasus incr, which is atomic on the
// primary, counts a missing record as 0 and keeps the record's TTL, as
// Redis does. Pegasus reports a non-integer value and an overflowing sum
// alike, so both get Redis' "not an integer" reply.
func incrBy(ctx context.Context, s *Server, key []byte, delta int64, out []byte) []byte {
	v, err := s.backend.Incr(ctx, key, delta)
	if err != nil {
		return appendError(out, err)
	}
	return redcon.AppendInt(out, v)
}

// equalFold reports whether s equals the lower-case ASCII word lower, in
// any letter case.
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// upper returns s in upper-case ASCII.
func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
