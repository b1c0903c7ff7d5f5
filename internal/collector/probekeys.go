package collector

import (
	"fmt"
	"math/bits"
	"strconv"

	"github.com/pegasus-go/pegasus/client"
)

// probeKeyPrefix starts every hash key the availability detector writes.
const probeKeyPrefix = "pegasus_collector_probe_"

// probeHashKeys returns, for a table of n partitions, one hash key per
// partition such that keys[i] routes to partition i (CRC-64 of the hash key
// mod n, the client's routing, client.PartitionHash). Probing every
// partition is the point of the detector: a random key set would leave some
// partitions unprobed and their outages invisible.
//
// Candidates are tried in order, so the keys are the same on every run and
// a restarted collector overwrites its previous probe records instead of
// leaving new ones behind.
func probeHashKeys(n int) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("collector: partition count %d is not positive", n)
	}
	keys := make([]string, n)
	missing := n
	// A uniform hash needs about n·ln(n) candidates to hit every residue
	// (the coupon collector); the bound leaves a wide margin and only
	// guards against looping forever on a broken hash.
	limit := 64 * n * (bits.Len(uint(n)) + 1)
	for k := 0; missing > 0; k++ {
		if k == limit {
			return nil, fmt.Errorf("collector: no probe hash key routes to %d of %d partitions after %d candidates", missing, n, limit)
		}
		key := probeKeyPrefix + strconv.Itoa(k)
		p := client.PartitionHash([]byte(key), nil) % uint64(n)
		if keys[p] == "" {
			keys[p] = key
			missing--
		}
	}
	return keys, nil
}
