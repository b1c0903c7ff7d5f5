package collector

import (
	"strings"
	"testing"
)

// pegasusCRC64 is Pegasus' key hash written bitwise (reflected CRC-64 with
// the polynomial of the official clients, 0x9a6c9329ac4bc9b5, inverted in
// and out), apart from the client's table-driven one so each checks the
// other.
func pegasusCRC64(b []byte) uint64 {
	crc := ^uint64(0)
	for _, x := range b {
		crc ^= uint64(x)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0x9a6c9329ac4bc9b5
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestProbeKeysRouteToTheirPartition(t *testing.T) {
	// The official Java and Go clients put hash key "a" in partition 4 of 8.
	if got := pegasusCRC64([]byte("a")) % 8; got != 4 {
		t.Fatalf("reference hash puts \"a\" in partition %d of 8, want 4", got)
	}
	for _, n := range []int{1, 2, 3, 8, 16, 100, 256, 1024} {
		keys, err := probeHashKeys(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != n {
			t.Fatalf("n=%d: %d keys", n, len(keys))
		}
		seen := map[string]bool{}
		for i, k := range keys {
			if got := pegasusCRC64([]byte(k)) % uint64(n); got != uint64(i) {
				t.Fatalf("n=%d: key %q for partition %d routes to %d", n, k, i, got)
			}
			if seen[k] || !strings.HasPrefix(k, probeKeyPrefix) {
				t.Fatalf("n=%d: key %q repeated or unprefixed", n, k)
			}
			seen[k] = true
		}
	}
	// Stable across runs: a restarted collector overwrites its old records.
	a, _ := probeHashKeys(8)
	b, _ := probeHashKeys(8)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatal("probe keys differ between two calls")
	}
	if _, err := probeHashKeys(0); err == nil {
		t.Fatal("zero partitions accepted")
	}
}
