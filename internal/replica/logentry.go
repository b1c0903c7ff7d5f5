package replica

import (
	"encoding/binary"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
)

// A replicated entry is stored in the mutation log as one record:
//
//	record.Decree = entry decree
//	record.Ballot = the replica's ballot when it wrote the record
//	record.Data   = version(1) ballot(uvarint) last_committed(uvarint)
//	                timestamp(varint) client_id(uvarint) seq(uvarint) payload
//
// The record's own ballot is the writer's ballot, not the entry's. The log's
// supersede rule (a later record (d, b) hides earlier records at decrees >= d
// with a lower ballot, and never one with a higher ballot) is then exactly
// the replay rule of the replication core: a record for decree d replaces
// every earlier record at decrees >= d. The writer's ballot never decreases
// (it is persisted before anything is written under it), whereas an entry's
// own ballot can: a new primary re-prepares entries under the ballot they
// were created in, and one of them may replace a newer leftover of a
// deposed primary on a secondary. Keyed by the entry's ballot, the log would
// keep the leftover.
const logEntryV1 = 1

// appendLogEntry encodes e at the end of dst.
func appendLogEntry(dst []byte, e pacifica.Entry) []byte {
	dst = append(dst, logEntryV1)
	dst = binary.AppendUvarint(dst, uint64(e.Ballot))
	dst = binary.AppendUvarint(dst, uint64(e.LastCommitted))
	dst = binary.AppendVarint(dst, e.Timestamp)
	dst = binary.AppendUvarint(dst, e.RequestID.ClientID)
	dst = binary.AppendUvarint(dst, e.RequestID.Seq)
	return append(dst, e.Data...)
}

// logRecords encodes entries as records written under the replica's ballot.
func logRecords(entries []pacifica.Entry, writer pacifica.Ballot) []mutlog.Record {
	recs := make([]mutlog.Record, len(entries))
	for i, e := range entries {
		recs[i] = mutlog.Record{Decree: int64(e.Decree), Ballot: int64(writer), Data: appendLogEntry(nil, e)}
	}
	return recs
}

// decodeLogEntry decodes a record written by logRecords. The entry's payload
// is copied: record data is only valid while the log hands it out.
func decodeLogEntry(rec mutlog.Record) (pacifica.Entry, error) {
	r := varintReader{buf: rec.Data}
	if v := r.byte(); v != logEntryV1 {
		return pacifica.Entry{}, errorf(ErrCorruptLog, "decree %d: format %d", rec.Decree, v)
	}
	e := pacifica.Entry{
		Ballot:        pacifica.Ballot(r.uvarint()),
		Decree:        pacifica.Decree(rec.Decree),
		LastCommitted: pacifica.Decree(r.uvarint()),
		Timestamp:     r.varint(),
		RequestID:     pacifica.RequestID{ClientID: r.uvarint(), Seq: r.uvarint()},
	}
	if r.bad {
		return pacifica.Entry{}, errorf(ErrCorruptLog, "decree %d: truncated header", rec.Decree)
	}
	if e.Ballot <= 0 || int64(e.Ballot) > rec.Ballot || e.LastCommitted < 0 || e.LastCommitted >= e.Decree {
		return pacifica.Entry{}, errorf(ErrCorruptLog, "decree %d: entry %v in a record of ballot %d",
			rec.Decree, e, rec.Ballot)
	}
	if len(r.buf) > 0 {
		e.Data = append(make([]byte, 0, len(r.buf)), r.buf...)
	}
	return e, nil
}

// varintReader reads the header fields of a record. The first failure
// sticks and later reads return zero, so decoding reads like the format and
// checks bad once.
type varintReader struct {
	buf []byte
	bad bool
}

func (r *varintReader) byte() byte {
	if len(r.buf) == 0 {
		r.bad = true
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

func (r *varintReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.bad, r.buf = true, nil
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *varintReader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.bad, r.buf = true, nil
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// LogRecords encodes entries as log records filed under writer, the
// replica's persisted ballot. The whole-system simulation (internal/sim)
// keeps its disk model's log in this format, so that recovery (RecoverCore)
// and log reads decode it with the server's own code.
func LogRecords(entries []pacifica.Entry, writer pacifica.Ballot) []mutlog.Record {
	return logRecords(entries, writer)
}

// DecodeLogEntry decodes a record written by LogRecords.
func DecodeLogEntry(rec mutlog.Record) (pacifica.Entry, error) { return decodeLogEntry(rec) }
