package pegasusrpc

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

// checkGolden checks a Value against its hand-written wire bytes in both
// directions: encoding want must produce exactly the golden bytes, and
// decoding the golden bytes must consume all of them and produce want.
func checkGolden(t *testing.T, want Value, golden string) {
	t.Helper()
	wire := unhex(t, golden)

	if got := want.appendValue(nil); !bytes.Equal(got, wire) {
		t.Errorf("encode %T:\n got %s\nwant %s", want, hex.EncodeToString(got), hex.EncodeToString(wire))
	}

	got := reflect.New(reflect.TypeOf(want).Elem()).Interface().(Value)
	d := decoder{buf: wire}
	got.readValue(&d)
	if d.err != nil {
		t.Fatalf("decode %T: %v", want, d.err)
	}
	if d.off != len(wire) {
		t.Errorf("decode %T consumed %d of %d bytes", want, d.off, len(wire))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode %T:\n got %+v\nwant %+v", want, got, want)
	}
}
