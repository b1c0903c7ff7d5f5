package storage

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sampleOps holds every op kind with edge values. Empty byte fields are nil,
// as DecodeOps returns them.
func sampleOps() []WriteOp {
	return []WriteOp{
		Put{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v"), TTLSeconds: 30},
		Put{},
		Put{HashKey: []byte{0xFF, 0x00}, Value: make([]byte, 300), TTLSeconds: math.MaxInt32},
		Remove{HashKey: []byte("h"), SortKey: []byte("s")},
		MultiPut{HashKey: []byte("h"), KVs: []KV{{[]byte("a"), []byte("1")}, {nil, nil}}, TTLSeconds: 7},
		MultiRemove{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a"), nil, []byte("c")}},
		Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: math.MinInt64, TTLSeconds: math.MinInt32},
		Incr{Delta: math.MaxInt64, TTLSeconds: -1},
		CheckAndSet{
			HashKey: []byte("h"), CheckSortKey: []byte("c"), CheckType: CheckBytesEqual,
			CheckOperand: []byte("old"), SetSortKey: []byte("s"), SetValue: []byte("new"),
			SetTTLSeconds: 5, ReturnCheckValue: true,
		},
		CheckAndSet{CheckType: CheckIntGreater},
	}
}

func TestOpsRoundTrip(t *testing.T) {
	for _, ops := range [][]WriteOp{nil, sampleOps(), randomOps(rand.New(rand.NewPCG(5, 6)), 200)} {
		buf, err := EncodeOps(ops)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeOps(buf)
		if err != nil {
			t.Fatalf("DecodeOps: %v", err)
		}
		if len(ops) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, ops) {
			t.Fatalf("round trip changed the ops:\n got %#v\nwant %#v", got, ops)
		}
	}
}

func randomField(rng *rand.Rand) []byte {
	if rng.IntN(3) == 0 {
		return nil
	}
	b := make([]byte, 1+rng.IntN(200))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randomOps(rng *rand.Rand, n int) []WriteOp {
	ops := make([]WriteOp, 0, n)
	ttl := func() int32 { return int32(rng.Uint32()) }
	for range n {
		switch rng.IntN(6) {
		case 0:
			ops = append(ops, Put{randomField(rng), randomField(rng), randomField(rng), ttl()})
		case 1:
			ops = append(ops, Remove{randomField(rng), randomField(rng)})
		case 2:
			op := MultiPut{HashKey: randomField(rng), TTLSeconds: ttl()}
			for range 1 + rng.IntN(5) {
				op.KVs = append(op.KVs, KV{randomField(rng), randomField(rng)})
			}
			ops = append(ops, op)
		case 3:
			op := MultiRemove{HashKey: randomField(rng)}
			for range 1 + rng.IntN(5) {
				op.SortKeys = append(op.SortKeys, randomField(rng))
			}
			ops = append(ops, op)
		case 4:
			ops = append(ops, Incr{randomField(rng), randomField(rng), int64(rng.Uint64()), ttl()})
		case 5:
			ops = append(ops, CheckAndSet{
				randomField(rng), randomField(rng), CheckType(rng.IntN(18)), randomField(rng),
				randomField(rng), randomField(rng), ttl(), rng.IntN(2) == 0,
			})
		}
	}
	return ops
}

func TestDecodeOpsRejectsEveryTruncation(t *testing.T) {
	buf, err := EncodeOps(sampleOps())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(buf) {
		if _, err := DecodeOps(buf[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeOps of the first %d of %d bytes: %v, want ErrCorrupt", n, len(buf), err)
		}
	}
}

func TestDecodeOpsRejectsMalformed(t *testing.T) {
	put, _ := EncodeOps([]WriteOp{Put{HashKey: []byte("h")}})
	cas, _ := EncodeOps([]WriteOp{CheckAndSet{}})
	badFlags := append([]byte(nil), cas...)
	badFlags[len(badFlags)-1] = 0x02
	for name, buf := range map[string][]byte{
		"empty":          {},
		"version 0":      {0, 0},
		"version 2":      {2, 0},
		"trailing byte":  append(append([]byte(nil), put...), 0),
		"unknown kind":   {opsFormatV1, 1, 99},
		"kind 0":         {opsFormatV1, 1, 0},
		"huge op count":  {opsFormatV1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F},
		"huge field":     {opsFormatV1, 1, byte(OpRemove), 0xFF, 0xFF, 0xFF, 0xFF, 0x0F},
		"huge kv count":  {opsFormatV1, 1, byte(OpMultiPut), 0, 0, 0xFF, 0xFF, 0x03},
		"ttl over int32": {opsFormatV1, 1, byte(OpPut), 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10},
		"varint overflow": {opsFormatV1, 1, byte(OpIncr), 0, 0,
			0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0},
		"unknown cas flags": badFlags,
	} {
		if ops, err := DecodeOps(buf); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeOps = %v, %v; want ErrCorrupt", name, ops, err)
		}
	}
}

func TestEncodeOpsRefusesForeignOps(t *testing.T) {
	for _, op := range []WriteOp{&Put{}, nil} {
		if _, err := EncodeOps([]WriteOp{Put{}, op}); !errors.Is(err, ErrUnknownOp) {
			t.Errorf("EncodeOps(%T) = %v, want ErrUnknownOp", op, err)
		}
	}
}

func FuzzDecodeOps(f *testing.F) {
	for _, ops := range [][]WriteOp{nil, sampleOps(), sampleOps()[4:6], randomOps(rand.New(rand.NewPCG(7, 8)), 5)} {
		buf, err := EncodeOps(ops)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf)
	}
	f.Add([]byte{opsFormatV1, 1, byte(OpMultiPut), 0, 0, 0xFF, 0xFF, 0x03})
	f.Fuzz(func(t *testing.T, buf []byte) {
		ops, err := DecodeOps(buf)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeOps error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes re-encodes to bytes that decode to the same ops.
		again, err := EncodeOps(ops)
		if err != nil {
			t.Fatalf("EncodeOps of decoded ops: %v", err)
		}
		ops2, err := DecodeOps(again)
		if err != nil || !reflect.DeepEqual(ops, ops2) {
			t.Fatalf("decode/encode/decode changed the ops: %v", err)
		}
	})
}
