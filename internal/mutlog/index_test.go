package mutlog

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// applyAll indexes records given as (decree, ballot) pairs in log order; each
// entry's off is its position in the log, so tests can tell copies apart.
func applyAll(recs [][2]int64) index {
	var ix index
	for i, r := range recs {
		ix.apply(indexEntry{decree: r[0], ballot: r[1], seq: 1, off: uint32(i)})
	}
	return ix
}

// describe renders entries as "decree/ballot@position".
func describe(entries []indexEntry) string {
	var parts []string
	for _, e := range entries {
		parts = append(parts, fmt.Sprintf("%d/%d@%d", e.decree, e.ballot, e.off))
	}
	return strings.Join(parts, " ")
}

func TestIndexSupersede(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  [][2]int64
		want string
	}{
		{"empty", nil, ""},
		{"in order", [][2]int64{{1, 1}, {2, 1}, {3, 1}}, "1/1@0 2/1@1 3/1@2"},
		{
			// A new primary at ballot 2 re-prepares 3: the old 3..5 go.
			"re-prepare drops the old tail",
			[][2]int64{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {3, 2}},
			"1/1@0 2/1@1 3/2@5",
		},
		{
			"re-prepare then continue",
			[][2]int64{{1, 1}, {2, 1}, {3, 1}, {2, 2}, {3, 2}, {4, 2}},
			"1/1@0 2/2@3 3/2@4 4/2@5",
		},
		{
			// Prepares of one ballot may be logged out of order.
			"same ballot out of order",
			[][2]int64{{1, 1}, {3, 1}, {2, 1}, {4, 1}},
			"1/1@0 2/1@2 3/1@1 4/1@3",
		},
		{"retried prepare: later copy wins", [][2]int64{{1, 1}, {2, 1}, {2, 1}}, "1/1@0 2/1@2"},
		{
			"stale ballot does not override",
			[][2]int64{{1, 1}, {2, 3}, {2, 2}},
			"1/1@0 2/3@1",
		},
		{
			// (2,2) is stale for decree 2, but still supersedes (3,1).
			"stale record still supersedes lower ballots",
			[][2]int64{{2, 3}, {3, 1}, {2, 2}},
			"2/3@0",
		},
		{
			"higher ballot at a higher decree keeps lower decrees",
			[][2]int64{{1, 1}, {2, 1}, {3, 1}, {4, 2}},
			"1/1@0 2/1@1 3/1@2 4/2@3",
		},
		{
			"decree below the whole log",
			[][2]int64{{10, 1}, {11, 1}, {5, 2}},
			"5/2@2",
		},
		{
			"mixed ballots in the tail",
			[][2]int64{{1, 1}, {2, 3}, {3, 1}, {4, 3}, {2, 2}},
			"1/1@0 2/3@1 4/3@3",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := applyAll(tc.log)
			if got := describe(ix.entries); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// model computes the effective records straight from the definition: a
// record is dead if a later record has a decree at or below its own and a
// higher ballot; each decree's effective record is its live record with the
// highest ballot, the latest among equals.
func model(recs [][2]int64) []indexEntry {
	best := map[int64]indexEntry{}
	for i, r := range recs {
		dead := false
		for _, later := range recs[i+1:] {
			if later[0] <= r[0] && later[1] > r[1] {
				dead = true
				break
			}
		}
		if dead {
			continue
		}
		if b, ok := best[r[0]]; ok && b.ballot > r[1] {
			continue
		}
		best[r[0]] = indexEntry{decree: r[0], ballot: r[1], seq: 1, off: uint32(i)}
	}
	var out []indexEntry
	for _, e := range best {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b indexEntry) int { return int(a.decree - b.decree) })
	return out
}

func TestIndexMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 3000; iter++ {
		n := 1 + rng.IntN(40)
		recs := make([][2]int64, n)
		// Mostly increasing decrees with occasional reconfigurations, like a
		// real log, plus fully random ones.
		decree, ballot := int64(1+rng.IntN(5)), int64(1)
		for i := range recs {
			switch {
			case iter%3 == 0:
				recs[i] = [2]int64{int64(1 + rng.IntN(12)), int64(rng.IntN(4))}
				continue
			case rng.IntN(8) == 0:
				ballot++
				decree = max(1, decree-int64(rng.IntN(6)))
			case rng.IntN(10) == 0:
				decree += int64(rng.IntN(3)) // duplicates and gaps
			default:
				decree++
			}
			recs[i] = [2]int64{decree, ballot}
		}
		ix := applyAll(recs)
		if got, want := describe(ix.entries), describe(model(recs)); got != want {
			t.Fatalf("log %v\n got  %s\n want %s", recs, got, want)
		}
	}
}

func TestIndexBetweenAndDrop(t *testing.T) {
	var ix index
	for d := int64(1); d <= 10; d++ {
		ix.apply(indexEntry{decree: d * 10, ballot: 1, seq: uint64(1 + d/4)})
	}
	if got := describe(ix.between(25, 60)); got != "30/1@0 40/1@0 50/1@0 60/1@0" {
		t.Fatalf("between(25, 60) = %s", got)
	}
	if got := ix.between(101, 200); len(got) != 0 {
		t.Fatalf("between past the end = %v", got)
	}
	ix.dropSegmentsThrough(2) // decrees 10..70 live in segments 1 and 2
	if ix.first() != 80 || ix.last() != 100 {
		t.Fatalf("after drop: first %d last %d", ix.first(), ix.last())
	}
}

// TestEffectiveMatchesModel checks Effective against the direct definition
// of the supersede rules on random logs.
func TestEffectiveMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 500 {
		var recs [][2]int64
		var in []Record
		for range rng.IntN(30) {
			r := [2]int64{1 + rng.Int64N(10), 1 + rng.Int64N(4)}
			recs = append(recs, r)
			in = append(in, Record{Decree: r[0], Ballot: r[1], Data: []byte{byte(len(in))}})
		}
		want := model(recs)
		got := Effective(in)
		if len(got) != len(want) {
			t.Fatalf("log %v: Effective gave %d records, the model %d", recs, len(got), len(want))
		}
		for i, e := range want {
			if got[i].Decree != e.decree || got[i].Ballot != e.ballot || int(got[i].Data[0]) != int(e.off) {
				t.Fatalf("log %v: record %d is %d/%d@%d, the model says %s", recs, i,
					got[i].Decree, got[i].Ballot, got[i].Data[0], describe(want))
			}
		}
	}
}
