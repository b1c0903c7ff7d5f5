package bench

import (
	"slices"
	"testing"
)

func TestLostWrites(t *testing.T) {
	readBack := func(key uint64, value ValueID) []Op { return []Op{getOp(9, key, value, 1000, 1001)} }
	for _, tc := range []struct {
		name     string
		ops      []Op
		readBack []Op
		lost     int
	}{{
		name:     "latest acknowledged write visible",
		ops:      []Op{setOp(0, 1, v(1), 0, 1), setOp(0, 1, v(2), 2, 3)},
		readBack: readBack(1, v(2)),
	}, {
		name:     "older value visible",
		ops:      []Op{setOp(0, 1, v(1), 0, 1), setOp(0, 1, v(2), 2, 3)},
		readBack: readBack(1, v(1)),
		lost:     1,
	}, {
		name:     "acknowledged write missing",
		ops:      []Op{setOp(0, 1, v(1), 0, 1)},
		readBack: readBack(1, Absent),
		lost:     1,
	}, {
		name:     "concurrent acknowledged writes: the first may win",
		ops:      []Op{setOp(0, 1, v(1), 0, 10), setOp(1, 1, v(2), 5, 6)},
		readBack: readBack(1, v(1)),
	}, {
		name:     "concurrent acknowledged writes: the second may win",
		ops:      []Op{setOp(0, 1, v(1), 0, 10), setOp(1, 1, v(2), 5, 6)},
		readBack: readBack(1, v(2)),
	}, {
		name: "unknown write may land late",
		ops: []Op{
			withResult(setOp(0, 1, v(1), 0, 5), ResultUnknown),
			setOp(1, 1, v(2), 10, 11),
		},
		readBack: readBack(1, v(1)),
	}, {
		name:     "unknown write may never land",
		ops:      []Op{withResult(setOp(0, 1, v(1), 0, 5), ResultUnknown)},
		readBack: readBack(1, Absent),
	}, {
		name: "rejected write must not appear",
		ops: []Op{
			setOp(0, 1, v(1), 0, 1),
			withResult(setOp(0, 1, v(2), 2, 3), ResultFailed),
		},
		readBack: readBack(1, v(2)),
		lost:     1,
	}, {
		name:     "acknowledged delete",
		ops:      []Op{setOp(0, 1, v(1), 0, 1), delOp(0, 1, 2, 3)},
		readBack: readBack(1, Absent),
	}, {
		name:     "acknowledged delete undone",
		ops:      []Op{setOp(0, 1, v(1), 0, 1), delOp(0, 1, 2, 3)},
		readBack: readBack(1, v(1)),
		lost:     1,
	}, {
		name:     "corrupt value",
		ops:      []Op{setOp(0, 1, v(1), 0, 1)},
		readBack: readBack(1, CorruptValue),
		lost:     1,
	}} {
		res := CheckLostWrites(tc.ops, tc.readBack, nil)
		if res.LostWrites != tc.lost || res.Verified != 1 || res.Unverified != 0 || res.Keys != 1 {
			t.Errorf("%s: %+v, want %d lost of 1 verified key", tc.name, res, tc.lost)
		}
		if len(res.Samples) != tc.lost {
			t.Errorf("%s: %d samples, want %d", tc.name, len(res.Samples), tc.lost)
		}
	}
}

func TestLostWriteSampleAndUnverifiedKeys(t *testing.T) {
	w := Workload{KeyCount: 100, KeyPrefix: "k"}
	ops := []Op{
		setOp(0, 1, v(1), 0, 1),
		setOp(0, 1, v(2), 2, 3),
		setOp(0, 2, v(3), 0, 1),
		getOp(1, 3, Absent, 0, 1), // only read: not a written key
	}
	readBack := []Op{
		withResult(getOp(9, 1, Absent, 10, 11), ResultFailed), // first attempt failed
		getOp(9, 1, v(1), 12, 13),
		withResult(getOp(9, 2, Absent, 10, 11), ResultFailed), // every attempt failed
	}
	res := CheckLostWrites(ops, readBack, w.KeyName)
	if res.Keys != 2 || res.Verified != 1 || res.Unverified != 1 || res.LostWrites != 1 {
		t.Fatalf("%+v, want 2 keys: 1 verified and lost, 1 unverified", res)
	}
	want := LostWrite{Key: "k01", Read: "w0.1", Allowed: []string{"w0.2"}}
	got := res.Samples[0]
	if got.Key != want.Key || got.Read != want.Read || !slices.Equal(got.Allowed, want.Allowed) {
		t.Errorf("sample %+v, want %+v", got, want)
	}
	if keys := writtenKeys(ops); !slices.Equal(keys, []uint64{1, 2}) {
		t.Errorf("written keys %v, want [1 2]", keys)
	}
}
