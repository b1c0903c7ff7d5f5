package rolling

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRecord feeds the decoder of the roll's record in etcd with
// arbitrary bytes: a damaged record is refused with ErrInvalidRecord, never
// a crash of the orchestrator resuming it; a record that decodes encodes
// back to one that decodes.
func FuzzDecodeRecord(f *testing.F) {
	for _, seed := range []string{
		`{"format":1}`,
		`{"format":1,"run":{"metas":["a:1"],"control":"exec"},"holder":{"host":"h","pid":1}}`,
		`{"format":2}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if _, err := decodeRecord(b); err != nil {
			t.Fatalf("re-encoded record %s does not decode: %v", b, err)
		}
	})
}
