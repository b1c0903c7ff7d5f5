package mutlog

import (
	"fmt"
	"slices"
	"sort"
)

// indexEntry locates the effective record for one decree.
type indexEntry struct {
	decree int64
	ballot int64
	seq    uint64 // segment
	off    uint32 // frame offset within the segment
	size   uint32 // frame size
}

// index holds the effective records of the log: for every decree still
// present, the one record that Replay and Read yield. Entries are sorted by
// strictly increasing decree.
//
// The log is append-only, but PacificA reconfiguration rewrites its tail:
// a new primary re-prepares the decrees after its last committed one under a
// higher ballot, and whatever an old primary prepared beyond them was never
// committed and must disappear. Records are therefore applied in log order
// with these rules, for a record r = (d, b):
//
//  1. r supersedes every earlier record with decree >= d and ballot < b.
//  2. r replaces an earlier record for d with the same ballot (a retried
//     prepare: the later copy wins).
//  3. An earlier record for d with a higher ballot stays, and r is not
//     indexed: a prepare from an older configuration never overrides a newer
//     one. This never happens when the replica rejects stale ballots before
//     logging; the rule only makes the outcome deterministic if it does.
//
// Applied record by record, the rules give the same result as the direct
// definition "for each decree, among the records no later record supersedes,
// the one with the highest ballot, the latest among equals", which is what
// the model in index_test.go computes.
//
// Memory: 32 bytes per effective record. The log is bounded by GC, which
// follows the storage's durable decree.
type index struct {
	entries []indexEntry
}

// apply adds record e, appended to the log after every record already
// applied.
func (ix *index) apply(e indexEntry) {
	n := len(ix.entries)
	// Normal operation: decrees arrive in increasing order and nothing is
	// superseded.
	if n == 0 || e.decree > ix.entries[n-1].decree {
		ix.entries = append(ix.entries, e)
		return
	}
	i := ix.lowerBound(e.decree)
	keep := true
	w := i
	for _, x := range ix.entries[i:] {
		if x.ballot < e.ballot {
			continue // rule 1
		}
		if x.decree == e.decree {
			if x.ballot == e.ballot {
				continue // rule 2
			}
			keep = false // rule 3
		}
		ix.entries[w] = x
		w++
	}
	ix.entries = ix.entries[:w]
	if keep {
		// Every entry left at or after i has a decree above e.decree.
		ix.entries = slices.Insert(ix.entries, i, e)
	}
	ix.checkInvariants()
}

// lowerBound returns the position of the first entry with decree >= d.
func (ix *index) lowerBound(d int64) int {
	return sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].decree >= d })
}

// first returns the lowest indexed decree, 0 when the index is empty.
func (ix *index) first() int64 {
	if len(ix.entries) == 0 {
		return 0
	}
	return ix.entries[0].decree
}

// last returns the highest indexed decree, 0 when the index is empty.
func (ix *index) last() int64 {
	if len(ix.entries) == 0 {
		return 0
	}
	return ix.entries[len(ix.entries)-1].decree
}

// between returns a copy of the entries with from <= decree <= to.
func (ix *index) between(from, to int64) []indexEntry {
	i := ix.lowerBound(from)
	j := i + sort.Search(len(ix.entries)-i, func(k int) bool { return ix.entries[i+k].decree > to })
	return slices.Clone(ix.entries[i:j])
}

// dropSegmentsThrough removes the entries that live in segments with
// seq <= last, after GC has removed those segments.
func (ix *index) dropSegmentsThrough(last uint64) {
	ix.entries = slices.DeleteFunc(ix.entries, func(e indexEntry) bool { return e.seq <= last })
	ix.checkInvariants()
}

func (ix *index) checkInvariants() {
	if !invariantsEnabled {
		return
	}
	for i := 1; i < len(ix.entries); i++ {
		if ix.entries[i-1].decree >= ix.entries[i].decree {
			panic(fmt.Sprintf("mutlog: index out of order at %d: decree %d then %d",
				i, ix.entries[i-1].decree, ix.entries[i].decree))
		}
	}
}
