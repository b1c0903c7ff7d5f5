package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomBytes draws lengths and bytes that stress the codec: empty strings,
// 0x00 and 0xFF (the bytes next to every boundary), and a few lengths above
// 255 so that both bytes of the length prefix vary.
func randomBytes(rng *rand.Rand) []byte {
	var n int
	switch rng.IntN(10) {
	case 0:
		n = 0
	case 1:
		n = 250 + rng.IntN(20)
	default:
		n = rng.IntN(4)
	}
	b := make([]byte, n)
	alphabet := []byte{0x00, 0x01, 'a', 0x7F, 0xFE, 0xFF}
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

func TestKeyOrderingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type record struct{ hash, sort []byte }
	var records []record
	for range 3000 {
		records = append(records, record{randomBytes(rng), randomBytes(rng)})
	}
	type encoded struct {
		key []byte
		record
	}
	keys := make([]encoded, 0, len(records))
	for _, r := range records {
		k, err := EncodeKey(r.hash, r.sort)
		if err != nil {
			t.Fatal(err)
		}
		h, s, err := DecodeKey(k)
		if err != nil || !bytes.Equal(h, r.hash) || !bytes.Equal(s, r.sort) {
			t.Fatalf("DecodeKey(EncodeKey(%x, %x)) = %x, %x, %v", r.hash, r.sort, h, s, err)
		}
		if bytes.Compare(k, recordKeysEnd) >= 0 {
			t.Fatalf("record key %x sorts into the metadata keyspace", k)
		}
		keys = append(keys, encoded{k, r})
	}
	slices.SortFunc(keys, func(a, b encoded) int { return bytes.Compare(a.key, b.key) })
	// Equal keys must come from equal records (the encoding is injective);
	// drop the duplicates the generator drew.
	keys = slices.CompactFunc(keys, func(a, b encoded) bool {
		if !bytes.Equal(a.key, b.key) {
			return false
		}
		if !bytes.Equal(a.hash, b.hash) || !bytes.Equal(a.sort, b.sort) {
			t.Fatalf("(%x, %x) and (%x, %x) encode to the same key", a.hash, a.sort, b.hash, b.sort)
		}
		return true
	})

	// Contiguity: once the scan leaves a hash key, it never sees it again.
	finished := map[string]bool{}
	for i, k := range keys {
		if i > 0 && !bytes.Equal(keys[i-1].hash, k.hash) {
			finished[string(keys[i-1].hash)] = true
			if finished[string(k.hash)] {
				t.Fatalf("records of hash key %x are not contiguous", k.hash)
			}
		}
		// Within a hash key, sort keys appear in byte order.
		if i > 0 && bytes.Equal(keys[i-1].hash, k.hash) && bytes.Compare(keys[i-1].sort, k.sort) >= 0 {
			t.Fatalf("hash key %x: sort key %x follows %x", k.hash, k.sort, keys[i-1].sort)
		}
	}

	// The bounds of a hash key hold its records and no other.
	for _, probe := range keys[:200] {
		lower, upper, err := HashKeyBounds(probe.hash)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			in := bytes.Compare(k.key, lower) >= 0 && bytes.Compare(k.key, upper) < 0
			if in != bytes.Equal(k.hash, probe.hash) {
				t.Fatalf("key (%x, %x) in bounds of hash key %x: %v", k.hash, k.sort, probe.hash, in)
			}
		}
	}
}

// inRange is SortKeyRange's meaning, written directly.
func inRange(r SortKeyRange, sortKey []byte) bool {
	if c := bytes.Compare(sortKey, r.Start); c < 0 || (c == 0 && !r.StartInclusive) {
		return false
	}
	if len(r.Stop) == 0 {
		return true
	}
	c := bytes.Compare(sortKey, r.Stop)
	return c < 0 || (c == 0 && r.StopInclusive)
}

func TestSortKeyRangeBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		hash := randomBytes(rng)
		r := SortKeyRange{
			Start: randomBytes(rng), Stop: randomBytes(rng),
			StartInclusive: rng.IntN(2) == 0, StopInclusive: rng.IntN(2) == 0,
		}
		lower, upper, err := r.Bounds(hash)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			sk := randomBytes(rng)
			if rng.IntN(4) == 0 {
				sk = bytes.Clone([][]byte{r.Start, r.Stop}[rng.IntN(2)])
			}
			key, _ := EncodeKey(hash, sk)
			got := bytes.Compare(key, lower) >= 0 && bytes.Compare(key, upper) < 0
			if want := inRange(r, sk); got != want {
				t.Fatalf("range %+v of hash %x: sort key %x in bounds = %v, want %v", r, hash, sk, got, want)
			}
			// Keys of another hash key never fall in the bounds.
			other := append(bytes.Clone(hash), 0)
			okey, _ := EncodeKey(other, sk)
			if bytes.Compare(okey, lower) >= 0 && bytes.Compare(okey, upper) < 0 {
				t.Fatalf("range %+v of hash %x holds key of hash %x", r, hash, other)
			}
		}
	}
}

func TestSortKeyRangeAfter(t *testing.T) {
	r := SortKeyRange{Start: []byte("a"), Stop: []byte("z"), StartInclusive: true, StopInclusive: true}
	next := r.After([]byte("m"))
	if inRange(next, []byte("m")) || !inRange(next, []byte("m\x00")) || !inRange(next, []byte("z")) {
		t.Fatalf("After(m) = %+v", next)
	}
}

func TestHashKeySizeLimit(t *testing.T) {
	if _, err := EncodeKey(make([]byte, MaxHashKeySize), nil); err != nil {
		t.Fatalf("hash key of %d bytes: %v", MaxHashKeySize, err)
	}
	if _, err := EncodeKey(make([]byte, MaxHashKeySize+1), nil); !errors.Is(err, ErrHashKeyTooLarge) {
		t.Fatalf("hash key of %d bytes: %v, want ErrHashKeyTooLarge", MaxHashKeySize+1, err)
	}
	// The longest hash key still has bounds below the metadata keyspace.
	_, upper, err := HashKeyBounds(bytes.Repeat([]byte{0xFF}, MaxHashKeySize))
	if err != nil || bytes.Compare(upper, recordKeysEnd) > 0 {
		t.Fatalf("bounds of the longest hash key end at %x (%v)", upper[:2], err)
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	for _, key := range [][]byte{
		nil,
		{0x00},
		{0x00, 0x03, 'a', 'b'}, // hash key longer than the key
		{0xFF, 0xFF},           // reserved length: metadata
		append([]byte{0xFF, 0xFF}, "applied_state"...),
	} {
		if _, _, err := DecodeKey(key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("DecodeKey(%x) = %v, want ErrInvalidKey", key, err)
		}
	}
	if _, _, err := DecodeKey(appliedStateKey); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("the applied state key decodes as a record key")
	}
}

func FuzzDecodeKey(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0}, {0, 0}, {0, 1, 'h'}, {0, 1, 'h', 's', 0xFF}, {0xFF, 0xFE}, {0xFF, 0xFF, 1},
		{0x01, 0x00, 'x'},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		hash, sort, err := DecodeKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("DecodeKey error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		again, err := EncodeKey(hash, sort)
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("EncodeKey(DecodeKey(%x)) = %x, %v", key, again, err)
		}
	})
}
