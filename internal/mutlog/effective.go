package mutlog

// Effective applies the log's supersede rules (index.go) to records given
// in the order they were appended and returns, in increasing decree order,
// the record that Replay would yield for each decree. It is the log's
// semantics without its files: the whole-system simulation (internal/sim)
// models a replica's disk as a list of records and reads it through this,
// so that its replicas recover exactly as a real log would let them.
func Effective(recs []Record) []Record {
	var ix index
	for i, r := range recs {
		ix.apply(indexEntry{decree: r.Decree, ballot: r.Ballot, off: uint32(i)})
	}
	out := make([]Record, len(ix.entries))
	for i, e := range ix.entries {
		out[i] = recs[e.off]
	}
	return out
}
