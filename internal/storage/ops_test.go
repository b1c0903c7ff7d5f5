package storage

import (
	"bytes"
	"errors"
	"testing"
)

func TestValidateOp(t *testing.T) {
	lim := SizeLimits{MaxSortKeySize: 8, MaxValueSize: 16}
	hugeHash := make([]byte, MaxHashKeySize+1)
	sk := func(n int) []byte { return bytes.Repeat([]byte{'s'}, n) }
	val := func(n int) []byte { return bytes.Repeat([]byte{'v'}, n) }
	for _, tc := range []struct {
		name string
		op   WriteOp
		want error
	}{
		{"put at limits", Put{HashKey: []byte("h"), SortKey: sk(8), Value: val(16), TTLSeconds: 1}, nil},
		{"put empty keys", Put{}, nil},
		{"put hash key", Put{HashKey: hugeHash}, ErrHashKeyTooLarge},
		{"put sort key", Put{SortKey: sk(9)}, ErrSortKeyTooLarge},
		{"put value", Put{Value: val(17)}, ErrValueTooLarge},
		{"put negative ttl", Put{TTLSeconds: -1}, ErrInvalidTTL},
		{"remove sort key", Remove{SortKey: sk(9)}, ErrSortKeyTooLarge},
		{"remove hash key", Remove{HashKey: hugeHash}, ErrHashKeyTooLarge},
		{"multi_put ok", MultiPut{KVs: []KV{{sk(8), val(16)}}}, nil},
		{"multi_put empty", MultiPut{HashKey: []byte("h")}, ErrEmptyMultiOp},
		{"multi_put value", MultiPut{KVs: []KV{{nil, nil}, {nil, val(17)}}}, ErrValueTooLarge},
		{"multi_put sort key", MultiPut{KVs: []KV{{sk(9), nil}}}, ErrSortKeyTooLarge},
		{"multi_put ttl", MultiPut{KVs: []KV{{}}, TTLSeconds: -3}, ErrInvalidTTL},
		{"multi_remove empty", MultiRemove{}, ErrEmptyMultiOp},
		{"multi_remove sort key", MultiRemove{SortKeys: [][]byte{nil, sk(9)}}, ErrSortKeyTooLarge},
		{"incr negative ttl clears", Incr{TTLSeconds: -1}, nil},
		{"incr hash key", Incr{HashKey: hugeHash}, ErrHashKeyTooLarge},
		{"cas ok", CheckAndSet{CheckType: CheckIntGreater, CheckOperand: val(16), SetValue: val(16)}, nil},
		{"cas check type", CheckAndSet{CheckType: 18}, ErrInvalidCheckType},
		{"cas check sort key", CheckAndSet{CheckSortKey: sk(9)}, ErrSortKeyTooLarge},
		{"cas set sort key", CheckAndSet{SetSortKey: sk(9)}, ErrSortKeyTooLarge},
		{"cas operand", CheckAndSet{CheckOperand: val(17)}, ErrValueTooLarge},
		{"cas set value", CheckAndSet{SetValue: val(17)}, ErrValueTooLarge},
		{"cas ttl", CheckAndSet{SetTTLSeconds: -1}, ErrInvalidTTL},
		{"pointer op", &Put{}, ErrUnknownOp},
		{"nil op", nil, ErrUnknownOp},
	} {
		err := ValidateOp(tc.op, lim)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: ValidateOp = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Without limits only the encoding's constraints remain.
	if err := ValidateOp(Put{SortKey: sk(1 << 20), Value: val(8 << 20)}, SizeLimits{}); err != nil {
		t.Errorf("unlimited: %v", err)
	}
}
