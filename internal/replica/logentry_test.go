package replica

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
)

func TestLogEntryRoundTrip(t *testing.T) {
	entries := []pacifica.Entry{
		{Ballot: 1, Decree: 1, LastCommitted: 0, Timestamp: 1_700_000_000, Data: []byte("x")},
		{Ballot: 2, Decree: 7, LastCommitted: 6, Timestamp: -1, RequestID: pacifica.RequestID{ClientID: ^uint64(0), Seq: 1 << 40}},
		{Ballot: 5, Decree: 1 << 40, LastCommitted: 1<<40 - 3, Data: make([]byte, 70000)},
	}
	recs := logRecords(entries, 5)
	for i, rec := range recs {
		if rec.Ballot != 5 || rec.Decree != int64(entries[i].Decree) {
			t.Errorf("record %d is (%d, %d), want decree %d under writer ballot 5", i, rec.Decree, rec.Ballot, entries[i].Decree)
		}
		got, err := decodeLogEntry(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, entries[i]) {
			t.Errorf("entry %d: got %+v, want %+v", i, got, entries[i])
		}
		// The payload must not alias the record: the log reuses its buffers.
		if len(rec.Data) > 0 && len(got.Data) > 0 {
			rec.Data[len(rec.Data)-1]++
			if got.Data[len(got.Data)-1] != entries[i].Data[len(entries[i].Data)-1] {
				t.Errorf("entry %d aliases the record's buffer", i)
			}
		}
	}
}

func TestLogEntryDecodeRefusesDamage(t *testing.T) {
	good := logRecords([]pacifica.Entry{{Ballot: 3, Decree: 9, LastCommitted: 8, Timestamp: 5}}, 3)[0]
	cases := map[string]mutlog.Record{
		"empty":                   {Decree: 9, Ballot: 3},
		"unknown version":         {Decree: 9, Ballot: 3, Data: append([]byte{2}, good.Data[1:]...)},
		"truncated header":        {Decree: 9, Ballot: 3, Data: good.Data[:3]},
		"entry above writer":      {Decree: 9, Ballot: 2, Data: good.Data},
		"commit not below decree": {Decree: 8, Ballot: 3, Data: good.Data},
	}
	for name, rec := range cases {
		if _, err := decodeLogEntry(rec); !errors.Is(err, ErrCorruptLog) {
			t.Errorf("%s: err %v, want ErrCorruptLog", name, err)
		}
	}
}
