package shell

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pegasus-go/pegasus/client"
)

// The JSON forms of the data commands. Keys and values are strings in the
// escaped form the text output prints (printable ASCII as is, \" \\ \n and
// \xNN for the rest) without the surrounding quotes: lossless for binary
// data, and the text pastes back into the shell as an argument.

// jbytes is a key or value in JSON.
type jbytes []byte

func (b jbytes) MarshalJSON() ([]byte, error) {
	e := escape(b)
	return json.Marshal(e[1 : len(e)-1])
}

// jrecord is one record of a read or a scan.
type jrecord struct {
	HashKey jbytes `json:"hash_key"`
	SortKey jbytes `json:"sort_key"`
	Value   jbytes `json:"value,omitempty"`
}

// jrecords is the JSON form of every command that lists records.
type jrecords struct {
	Records []jrecord `json:"records"`
	Count   int       `json:"count"`
	// More: a limit (-n, or the server's for multi_get) cut the result short.
	More bool `json:"more"`
}

func recordsJSON(recs []client.Record, more bool) jrecords {
	out := jrecords{Records: make([]jrecord, 0, len(recs)), Count: len(recs), More: more}
	for _, r := range recs {
		out.Records = append(out.Records, jrecord{HashKey: r.HashKey, SortKey: r.SortKey, Value: r.Value})
	}
	return out
}

// jok is the JSON form of a write that returns nothing.
type jok struct {
	OK bool `json:"ok"`
}

// printRecords prints records as Pegasus' shell does, one
// `"hash" : "sort" => "value"` line each (no value with noValue), and the
// count; or their JSON form.
func printRecords(in *invocation, recs []client.Record, more bool, noValue bool, moreNote string) error {
	if in.json {
		if noValue {
			for i := range recs {
				recs[i].Value = nil
			}
		}
		return writeJSON(in.out, recordsJSON(recs, more))
	}
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(escape(r.HashKey) + " : " + escape(r.SortKey))
		if !noValue {
			b.WriteString(" => " + escape(r.Value))
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n%d key-value pairs got.\n", len(recs))
	if more && moreNote != "" {
		b.WriteString(moreNote + "\n")
	}
	_, err := io.WriteString(in.out, b.String())
	return err
}
