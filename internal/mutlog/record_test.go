package mutlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func encodeSealed(r Record, batchOff int64) []byte {
	f := appendFrame(nil, r)
	sealFrame(f, batchOff)
	return f
}

func TestFrameRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{Decree: 1, Ballot: 0},
		{Decree: 1<<62 + 5, Ballot: 1<<40 + 3, Data: []byte("x")},
		sized(77, 3, 4096),
	} {
		f := encodeSealed(r, 4242)
		if len(f) != frameLen(len(r.Data)) {
			t.Fatalf("frame is %d bytes, want %d", len(f), frameLen(len(r.Data)))
		}
		// Trailing bytes belong to the next frame and must be left alone.
		got, batch, n, err := decodeFrame(append(bytes.Clone(f), 0xAA, 0xBB))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if n != len(f) || batch != 4242 || got.Decree != r.Decree || got.Ballot != r.Ballot || !bytes.Equal(got.Data, r.Data) {
			t.Fatalf("decoded (%d,%d,%d bytes) batch %d n %d from (%d,%d,%d bytes)",
				got.Decree, got.Ballot, len(got.Data), batch, n, r.Decree, r.Ballot, len(r.Data))
		}
	}
}

func TestDecodeFrameRejectsDamage(t *testing.T) {
	f := encodeSealed(rec(12, 4, "payload"), 32)
	for cut := 0; cut < len(f); cut++ {
		if _, _, _, err := decodeFrame(f[:cut]); !errors.Is(err, errFrameShort) && !errors.Is(err, errFrameLength) {
			t.Errorf("cut at %d: got %v, want a short frame", cut, err)
		}
	}
	for i := range f {
		for bit := 0; bit < 8; bit++ {
			g := bytes.Clone(f)
			g[i] ^= 1 << bit
			if _, _, _, err := decodeFrame(g); err == nil {
				t.Fatalf("flipping bit %d of byte %d went unnoticed", bit, i)
			}
		}
	}
	huge := bytes.Clone(f)
	binary.LittleEndian.PutUint32(huge[0:4], frameBodyMin+maxPayloadLen+1)
	if _, _, _, err := decodeFrame(huge); !errors.Is(err, errFrameLength) {
		t.Errorf("oversized length: got %v", err)
	}
	// A well-checksummed frame the writer would never produce.
	if _, _, _, err := decodeFrame(encodeSealed(Record{Decree: 0, Ballot: 1}, 32)); !errors.Is(err, errFrameInvalid) {
		t.Errorf("decree 0: got %v", err)
	}
	if _, _, _, err := decodeFrame(encodeSealed(Record{Decree: 1, Ballot: -1}, 32)); !errors.Is(err, errFrameInvalid) {
		t.Errorf("ballot -1: got %v", err)
	}
}

func TestSegmentHeader(t *testing.T) {
	h := encodeSegmentHeader(7)
	if err := checkSegmentHeader(h, 7); err != nil {
		t.Fatal(err)
	}
	if err := checkSegmentHeader(h, 8); err == nil {
		t.Fatal("header of segment 7 accepted as segment 8")
	}
	for i := range h {
		g := bytes.Clone(h)
		g[i] ^= 0x10
		if err := checkSegmentHeader(g, 7); err == nil {
			t.Fatalf("damage at byte %d went unnoticed", i)
		}
	}
	if seq, ok := parseSegmentName(segmentName(123)); !ok || seq != 123 {
		t.Fatalf("parseSegmentName(segmentName(123)) = %d, %v", seq, ok)
	}
	for _, bad := range []string{"log.1.plog", "log.00000000000000000000.plog", "log.0000000000000000000x.plog", "LOCK", "log.00000000000000000001.plog.tmp"} {
		if _, ok := parseSegmentName(bad); ok {
			t.Errorf("parseSegmentName(%q) accepted", bad)
		}
	}
}

// FuzzDecodeRecord checks that no input crashes the frame decoder and that
// whatever it accepts re-encodes to exactly the bytes it consumed.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, frameHeaderLen))
	f.Add(encodeSealed(rec(1, 1, "a"), 32))
	f.Add(encodeSealed(sized(99, 7, 300), 1024))
	f.Add(encodeSealed(rec(5, 2, "truncated"), 32)[:20])
	two := append(encodeSealed(rec(3, 1, "x"), 32), encodeSealed(rec(4, 1, "y"), 32)...)
	f.Add(two)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, batch, n, err := decodeFrame(b)
		if err != nil {
			return
		}
		if n > len(b) || n != frameLen(len(r.Data)) {
			t.Fatalf("decoded %d bytes of %d for a %d-byte payload", n, len(b), len(r.Data))
		}
		if again := encodeSealed(r, batch); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:n])
		}
	})
}
