package pegasusrpc

import "testing"

func TestIncrRequestGolden(t *testing.T) {
	checkGolden(t, &IncrRequest{Key: []byte("k"), Increment: -5}, `
		0c 0001 00000001 "k"     // 1: blob key
		0a 0002 fffffffffffffffb // 2: i64 increment = -5
		08 0003 00000000         // 3: i32 expire_ts_seconds, 0 = keep TTL
		00`)
}

func TestIncrResponseGolden(t *testing.T) {
	checkGolden(t, &IncrResponse{NewValue: 10, AppID: 2, PartitionIndex: 1, Decree: 3, Server: "s"}, `
		08 0001 00000000         // 1: error
		0a 0002 000000000000000a // 2: i64 new_value = 10
		08 0003 00000002         // 3: app_id
		08 0004 00000001         // 4: partition_index
		0a 0005 0000000000000003 // 5: i64 decree
		0b 0006 00000001 "s"     // 6: server
		00`)
}
