package pegasusserve

import (
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

func TestExpireConversions(t *testing.T) {
	now := time.Unix(pegasusrpc.ExpireEpochUnix+1_000_000, 0)
	for _, tc := range []struct {
		expire  int32
		ttl     int32
		expired bool
		incr    int32
		cas     int32
	}{
		{expire: 0, ttl: 0, incr: 0, cas: 0},                        // never expires / incr keeps
		{expire: 1_000_100, ttl: 100, incr: 100, cas: 100},          // in 100 s
		{expire: 1_000_000, ttl: 0, expired: true, incr: 1, cas: 1}, // now: expired
		{expire: 999_000, ttl: 0, expired: true, incr: 1, cas: 1},   // past
		{expire: -5, ttl: 0, incr: -1, cas: 0},                      // incr: clear the TTL
	} {
		ttl, expired := ttlFromExpire(tc.expire, now)
		if ttl != tc.ttl || expired != tc.expired {
			t.Errorf("ttlFromExpire(%d) = %d, %v; want %d, %v", tc.expire, ttl, expired, tc.ttl, tc.expired)
		}
		if got := incrTTL(tc.expire, now); got != tc.incr {
			t.Errorf("incrTTL(%d) = %d, want %d", tc.expire, got, tc.incr)
		}
		if got := casTTL(tc.expire, now); got != tc.cas {
			t.Errorf("casTTL(%d) = %d, want %d", tc.expire, got, tc.cas)
		}
	}
	if got := expireFromTTL(100, now); got != 1_000_100 {
		t.Errorf("expireFromTTL(100) = %d", got)
	}
	if got := expireFromTTL(-1, now); got != 0 {
		t.Errorf("expireFromTTL(-1) = %d, want 0", got)
	}
}

func TestKeyFilter(t *testing.T) {
	for _, tc := range []struct {
		typ     pegasusrpc.FilterType
		pattern string
		key     string
		want    bool
	}{
		{pegasusrpc.FilterNone, "x", "abc", true},
		{pegasusrpc.FilterMatchAnywhere, "b", "abc", true},
		{pegasusrpc.FilterMatchAnywhere, "d", "abc", false},
		{pegasusrpc.FilterMatchPrefix, "ab", "abc", true},
		{pegasusrpc.FilterMatchPrefix, "bc", "abc", false},
		{pegasusrpc.FilterMatchPostfix, "bc", "abc", true},
		{pegasusrpc.FilterMatchPostfix, "ab", "abc", false},
		{pegasusrpc.FilterMatchPostfix, "", "abc", true}, // an empty pattern matches all
	} {
		if got := (keyFilter{typ: tc.typ, pattern: []byte(tc.pattern)}).match([]byte(tc.key)); got != tc.want {
			t.Errorf("%v %q on %q = %v", tc.typ, tc.pattern, tc.key, got)
		}
	}
	if (keyFilter{typ: 4}).valid() || (keyFilter{typ: -1}).valid() || !(keyFilter{typ: pegasusrpc.FilterMatchPostfix}).valid() {
		t.Error("filter type validity")
	}
	for in, want := range map[string]string{"ab": "ac", "a\xff": "b", "\xff\xff": "", "": ""} {
		end, ok := prefixEnd([]byte(in))
		if string(end) != want || ok != (want != "") {
			t.Errorf("prefixEnd(%q) = %q, %v", in, end, ok)
		}
	}
}
