package pegasusrpc

import (
	"bytes"
	"errors"
	"hash/crc64"
	"testing"
)

func TestEncodeKeyGolden(t *testing.T) {
	cases := []struct {
		hashKey, sortKey string
		golden           string
	}{
		{"h", "s", `0001 "h" "s"`},             // u16 BE len | hash key | sort key
		{"user42", "", `0006 "user42"`},        // no sort key
		{"", "only-sort", `0000 "only-sort"`},  // empty hash key
		{"", "", `0000`},                       // the smallest key
		{"a\x00b", "\xff", `0003 61 00 62 ff`}, // binary-safe
	}
	for _, c := range cases {
		want := unhex(t, c.golden)
		got, err := EncodeKey([]byte(c.hashKey), []byte(c.sortKey))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("EncodeKey(%q, %q) = % x, %v; want % x", c.hashKey, c.sortKey, got, err, want)
		}
		h, s, err := DecodeKey(want)
		if err != nil || string(h) != c.hashKey || string(s) != c.sortKey {
			t.Errorf("DecodeKey(% x) = %q, %q, %v", want, h, s, err)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	long := make([]byte, maxHashKeyLen+1)
	if _, err := EncodeKey(long, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("65536-byte hash key: err = %v", err)
	}
	if _, err := EncodeKey(long[:maxHashKeyLen], nil); err != nil {
		t.Errorf("65535-byte hash key: %v", err)
	}
	for _, bad := range [][]byte{nil, {0}, {0, 2, 'a'}, {0xff, 0xff}} {
		if _, _, err := DecodeKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("DecodeKey(% x): err = %v", bad, err)
		}
		if _, err := KeyHash(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("KeyHash(% x): err = %v", bad, err)
		}
	}
}

// crc64Bitwise computes the Pegasus CRC-64 one bit at a time, straight from
// the definition (reflected polynomial, all-ones init, final inversion),
// independently of hash/crc64's table.
func crc64Bitwise(data []byte) uint64 {
	crc := ^uint64(0)
	for _, b := range data {
		crc ^= uint64(b)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ crc64Poly
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestCRC64MatchesPegasus(t *testing.T) {
	// Entries of the lookup table printed in rDSN's src/utils/crc.cpp (and
	// the Node client's copy of it); entry 128 is the polynomial itself.
	table := map[int]uint64{
		0:   0x0000000000000000,
		1:   0x7f6ef0c830358979,
		2:   0xfedde190606b12f2,
		3:   0x81b31158505e9b8b,
		84:  0x66d8c0f56a91f461,
		88:  0x09a6c9329ac4bc9b,
		128: 0x9a6c9329ac4bc9b5,
		255: 0x2ada5047efec8728,
	}
	for i, want := range table {
		if crc64Table[i] != want {
			t.Errorf("table[%d] = %#016x, want %#016x", i, crc64Table[i], want)
		}
	}

	for _, in := range []string{"", "a", "user42", "123456789", string(make([]byte, 1000))} {
		if got, want := HashKeyHash([]byte(in)), crc64Bitwise([]byte(in)); got != want {
			t.Errorf("HashKeyHash(%q) = %#016x, bitwise %#016x", in, got, want)
		}
	}

	// The Go client's own test: hash key "a" lands in partition 4 of 8.
	if got := PartitionIndex(HashKeyHash([]byte("a")), 8); got != 4 {
		t.Errorf(`partition of "a" among 8 = %d, want 4`, got)
	}

	// Neither standard table gives these hashes; using one would misroute.
	for name, std := range map[string]*crc64.Table{"ECMA": crc64.MakeTable(crc64.ECMA), "ISO": crc64.MakeTable(crc64.ISO)} {
		if crc64.Checksum([]byte("a"), std) == HashKeyHash([]byte("a")) {
			t.Errorf("Pegasus hash equals crc64.%s", name)
		}
	}
}

func TestKeyHash(t *testing.T) {
	key, _ := EncodeKey([]byte("user42"), []byte("profile"))
	if got, _ := KeyHash(key); got != HashKeyHash([]byte("user42")) {
		t.Error("KeyHash must hash only the hash key")
	}
	// Empty hash key: the server hashes the sort key instead.
	key, _ = EncodeKey(nil, []byte("profile"))
	if got, _ := KeyHash(key); got != HashKeyHash([]byte("profile")) {
		t.Error("KeyHash of an empty hash key must hash the sort key")
	}
}

func TestPartitionIndex(t *testing.T) {
	// For power-of-two counts, % equals the server's & (count-1).
	for _, h := range []uint64{0, 1, 7, 1<<63 + 5, ^uint64(0)} {
		for _, n := range []int32{2, 4, 8, 1024} {
			if got, want := PartitionIndex(h, n), int32(h&uint64(n-1)); got != want {
				t.Errorf("PartitionIndex(%#x, %d) = %d, want %d", h, n, got, want)
			}
		}
	}
	if PartitionIndex(5, 0) != -1 || PartitionIndex(5, -8) != -1 {
		t.Error("non-positive counts must name no partition")
	}
}

func TestIsPowerOfTwo(t *testing.T) {
	for n, want := range map[int32]bool{
		-8: false, -1: false, 0: false, 1: true, 2: true, 3: false, 4: true,
		6: false, 8: true, 1 << 30: true, 1<<30 + 1: false, 1<<31 - 1: false,
	} {
		if IsPowerOfTwo(n) != want {
			t.Errorf("IsPowerOfTwo(%d) = %v", n, !want)
		}
	}
}
