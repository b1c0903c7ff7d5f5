package pegasusrpc

import "testing"

func TestUpdateRequestGolden(t *testing.T) {
	// A plain put as the clients send it: optional fields absent.
	checkGolden(t, &UpdateRequest{Key: []byte("\x00\x01hs"), Value: []byte("v1")}, `
		0c 0001 00000004 0001 "hs" // 1: blob key = u16 len(hash key) | "h" | "s"
		0c 0002 00000002 "v1"      // 2: blob value
		08 0003 00000000           // 3: i32 expire_ts_seconds
		00`)

	// A put derived from check_and_set, with every optional field set.
	checkGolden(t, &UpdateRequest{
		Key:                []byte("k"),
		Value:              []byte("v"),
		ExpireTsSeconds:    300,
		Type:               Some(UpdateCheckAndSet),
		CheckValueReturned: Some(true),
		CheckValueExist:    Some(false),
		CheckValue:         Some([]byte("old")),
	}, `
		0c 0001 00000001 "k"
		0c 0002 00000001 "v"
		08 0003 0000012c          // 3: expire_ts_seconds = 300
		08 0004 00000002          // 4: optional update_type = UT_CHECK_AND_SET
		02 0005 01                // 5: optional bool check_value_returned
		02 0006 00                // 6: optional bool check_value_exist = false, but set
		0c 0007 00000003 "old"    // 7: optional blob check_value
		00`)
}

func TestUpdateResponseGolden(t *testing.T) {
	checkGolden(t, &UpdateResponse{
		Error: StatusOK, AppID: 2, PartitionIndex: 1, Decree: 42, Server: "10.0.0.1:34801",
	}, `
		08 0001 00000000                  // 1: i32 error (storage status)
		08 0002 00000002                  // 2: i32 app_id
		08 0003 00000001                  // 3: i32 partition_index
		0a 0004 000000000000002a          // 4: i64 decree = 42
		0b 0005 0000000e "10.0.0.1:34801" // 5: string server
		00`)
}
