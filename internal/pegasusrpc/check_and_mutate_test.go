package pegasusrpc

import "testing"

func TestMutateGolden(t *testing.T) {
	checkGolden(t, &Mutate{Operation: MutateDelete, SortKey: []byte("s")}, `
		08 0001 00000001     // 1: mutate_operation = MO_DELETE
		0c 0002 00000001 "s" // 2: blob sort_key
		0c 0003 00000000     // 3: blob value, empty for deletes
		08 0004 00000000     // 4: set_expire_ts_seconds
		00`)
}

func TestCheckAndMutateRequestGolden(t *testing.T) {
	checkGolden(t, &CheckAndMutateRequest{
		HashKey:      []byte("h"),
		CheckSortKey: []byte("c"),
		CheckType:    CheckValueNotExist,
		MutateList: []Mutate{
			{Operation: MutatePut, SortKey: []byte("a"), Value: []byte("1")},
			{Operation: MutateDelete, SortKey: []byte("b")},
		},
	}, `
		0c 0001 00000001 "h" // 1: blob hash_key
		0c 0002 00000001 "c" // 2: blob check_sort_key
		08 0003 00000001     // 3: cas_check_type = CT_VALUE_NOT_EXIST
		0c 0004 00000000     // 4: blob check_operand
		0f 0005 0c 00000002  // 5: list<mutate>, 2 structs
		   08 0001 00000000 0c 0002 00000001 "a" 0c 0003 00000001 "1" 08 0004 00000000 00
		   08 0001 00000001 0c 0002 00000001 "b" 0c 0003 00000000     08 0004 00000000 00
		02 0006 00           // 6: return_check_value
		00`)
}

func TestCheckAndMutateResponseGolden(t *testing.T) {
	resp := CheckAndMutateResponse(casResponse)
	checkGolden(t, &resp, casResponseGolden)
}
