package bench

import (
	"bytes"
	"testing"
)

func TestValueRoundTrip(t *testing.T) {
	for _, size := range []int{8, 9, 16, 100, 1000} {
		buf := make([]byte, size)
		id := makeValueID(3, 17)
		encodeValue(buf, id)
		if got := decodeValue(buf, size); got != id {
			t.Errorf("size %d: decoded %v, want %v", size, got, id)
		}
	}
}

func TestValueDecodeRejectsForeignBytes(t *testing.T) {
	const size = 64
	good := make([]byte, size)
	encodeValue(good, makeValueID(0, 1))
	other := make([]byte, size)
	encodeValue(other, makeValueID(0, 2))

	mixed := bytes.Clone(good)
	copy(mixed[40:], other[40:]) // header of one write, tail of another
	flipped := bytes.Clone(good)
	flipped[size-1] ^= 1

	for name, v := range map[string][]byte{
		"short":        good[:size-1],
		"long":         append(bytes.Clone(good), 0),
		"mixed":        mixed,
		"flipped bit":  flipped,
		"zero header":  make([]byte, size),
		"foreign text": bytes.Repeat([]byte("x"), size),
	} {
		if got := decodeValue(v, size); got != CorruptValue {
			t.Errorf("%s: decoded %v, want corrupt", name, got)
		}
	}
}

func TestValueIDString(t *testing.T) {
	for id, want := range map[ValueID]string{
		Absent:               "absent",
		CorruptValue:         "corrupt",
		makeValueID(0, 0):    "w0.0",
		makeValueID(12, 345): "w12.345",
	} {
		if got := id.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint64(id), got, want)
		}
	}
}
