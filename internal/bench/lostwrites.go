package bench

import (
	"slices"
	"time"
)

// maxLostWriteSamples caps the lost keys listed in a report.
const maxLostWriteSamples = 20

// LostWriteResult is the outcome of CheckLostWrites.
type LostWriteResult struct {
	// Skipped is set when the run was configured not to read back.
	Skipped bool `json:"skipped,omitempty"`
	// Keys is the number of keys the load wrote to (or tried to).
	Keys int `json:"keys"`
	// Verified keys were read back; Unverified ones could not be (every
	// read-back attempt failed), so they prove nothing either way.
	Verified   int `json:"verified"`
	Unverified int `json:"unverified"`
	// LostWrites counts keys whose latest acknowledged write is not
	// visible: the read-back found the key missing, holding an older
	// value, or holding a value no write can explain.
	LostWrites int         `json:"lost_writes"`
	Samples    []LostWrite `json:"samples,omitempty"`
}

// LostWrite describes one key that lost an acknowledged write.
type LostWrite struct {
	Key string `json:"key"`
	// Read is what the read-back found.
	Read string `json:"read"`
	// Allowed lists the values the key may hold.
	Allowed []string `json:"allowed"`
}

// writtenKeys returns, in increasing order, every key the history wrote to
// or tried to.
func writtenKeys(ops []Op) []uint64 {
	seen := make(map[uint64]struct{})
	var keys []uint64
	for _, op := range ops {
		if !op.IsWrite() {
			continue
		}
		if _, ok := seen[op.Key]; !ok {
			seen[op.Key] = struct{}{}
			keys = append(keys, op.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

// CheckLostWrites compares what the read-back found for each written key
// with what the load's writes allow.
//
// Which final values are allowed: with writers racing on a key, "the last
// acknowledged write" is any acknowledged write that no other acknowledged
// write started after; once a write returned, a later-starting acknowledged
// write supersedes it. Writes with an unknown outcome are allowed too,
// whenever they started: a timed-out write may still be applied late.
// A key with no acknowledged write may also still be absent. A Del allows
// Absent.
//
// readBack holds the read-back Gets; per key the last successful one
// counts, and a key with none is unverified.
func CheckLostWrites(ops []Op, readBack []Op, name func(uint64) string) LostWriteResult {
	type keyState struct {
		acked bool
		// lastAckedStart is the latest start of an acknowledged write;
		// an acknowledged write that returned before it is superseded.
		lastAckedStart time.Duration
		allowed        []ValueID
	}
	keys := make(map[uint64]*keyState)
	for _, op := range ops {
		if !op.IsWrite() {
			continue
		}
		k := keys[op.Key]
		if k == nil {
			k = &keyState{}
			keys[op.Key] = k
		}
		if op.Result == ResultOK {
			if !k.acked || op.Start > k.lastAckedStart {
				k.lastAckedStart = op.Start
			}
			k.acked = true
		}
	}
	for _, k := range keys {
		if !k.acked {
			k.allowed = append(k.allowed, Absent)
		}
	}
	for _, op := range ops {
		if !op.IsWrite() {
			continue
		}
		k := keys[op.Key]
		switch {
		case op.Result == ResultUnknown,
			op.Result == ResultOK && op.End >= k.lastAckedStart:
			k.allowed = append(k.allowed, writtenValue(op))
		}
	}

	final := make(map[uint64]Op, len(keys))
	for _, op := range readBack {
		if op.Kind != OpGet || op.Result != ResultOK {
			continue
		}
		if prev, ok := final[op.Key]; !ok || op.End > prev.End {
			final[op.Key] = op
		}
	}

	res := LostWriteResult{Keys: len(keys)}
	sorted := make([]uint64, 0, len(keys))
	for key := range keys {
		sorted = append(sorted, key)
	}
	slices.Sort(sorted)
	for _, key := range sorted {
		k := keys[key]
		read, ok := final[key]
		if !ok {
			res.Unverified++
			continue
		}
		res.Verified++
		if slices.Contains(k.allowed, read.Value) {
			continue
		}
		res.LostWrites++
		if len(res.Samples) < maxLostWriteSamples {
			lw := LostWrite{Key: keyName(name, key), Read: read.Value.String()}
			for _, v := range k.allowed {
				lw.Allowed = append(lw.Allowed, v.String())
			}
			res.Samples = append(res.Samples, lw)
		}
	}
	return res
}

// writtenValue is the value a write leaves behind.
func writtenValue(op Op) ValueID {
	if op.Kind == OpSet {
		return op.Value
	}
	return Absent
}
