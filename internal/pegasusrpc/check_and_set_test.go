package pegasusrpc

import "testing"

func TestCheckAndSetRequestGolden(t *testing.T) {
	checkGolden(t, &CheckAndSetRequest{
		HashKey:          []byte("h"),
		CheckSortKey:     []byte("c"),
		CheckType:        CheckValueExist,
		SetDiffSortKey:   true,
		SetSortKey:       []byte("s"),
		SetValue:         []byte("v"),
		ReturnCheckValue: true,
	}, `
		0c 0001 00000001 "h" // 1: blob hash_key
		0c 0002 00000001 "c" // 2: blob check_sort_key
		08 0003 00000003     // 3: cas_check_type = CT_VALUE_EXIST
		0c 0004 00000000     // 4: blob check_operand, empty
		02 0005 01           // 5: set_diff_sort_key
		0c 0006 00000001 "s" // 6: blob set_sort_key
		0c 0007 00000001 "v" // 7: blob set_value
		08 0008 00000000     // 8: set_expire_ts_seconds
		02 0009 01           // 9: return_check_value
		00`)
}

// casResponseGolden is shared by check_and_set and check_and_mutate, whose
// responses have the same layout.
const casResponseGolden = `
	08 0001 0000000d         // 1: error = TryAgain, the check failed
	02 0002 01               // 2: check_value_returned
	02 0003 01               // 3: check_value_exist
	0c 0004 00000003 "old"   // 4: blob check_value
	08 0005 00000002         // 5: app_id
	08 0006 00000001         // 6: partition_index
	0a 0007 0000000000000000 // 7: i64 decree
	0b 0008 00000001 "s"     // 8: server
	00`

var casResponse = CheckAndSetResponse{
	Error:              StatusTryAgain,
	CheckValueReturned: true,
	CheckValueExist:    true,
	CheckValue:         []byte("old"),
	AppID:              2,
	PartitionIndex:     1,
	Server:             "s",
}

func TestCheckAndSetResponseGolden(t *testing.T) {
	resp := casResponse
	checkGolden(t, &resp, casResponseGolden)
}
