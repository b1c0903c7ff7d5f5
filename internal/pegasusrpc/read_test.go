package pegasusrpc

import "testing"

func TestReadResponseGolden(t *testing.T) {
	checkGolden(t, &ReadResponse{Error: StatusNotFound, AppID: 2, PartitionIndex: 1, Server: "s"}, `
		08 0001 00000001     // 1: error = NotFound
		0c 0002 00000000     // 2: blob value, empty (still written)
		08 0003 00000002     // 3: app_id
		08 0004 00000001     // 4: partition_index
		0b 0006 00000001 "s" // 6: server (there is no field 5)
		00`)
}

func TestTTLResponseGolden(t *testing.T) {
	checkGolden(t, &TTLResponse{TTLSeconds: -1, AppID: 2, PartitionIndex: 3, Server: "s"}, `
		08 0001 00000000     // 1: error
		08 0002 ffffffff     // 2: ttl_seconds = -1, no TTL
		08 0003 00000002     // 3: app_id
		08 0004 00000003     // 4: partition_index
		0b 0006 00000001 "s" // 6: server
		00`)
}

func TestCountResponseGolden(t *testing.T) {
	checkGolden(t, &CountResponse{Count: 7, AppID: 2, PartitionIndex: 3}, `
		08 0001 00000000         // 1: error
		0a 0002 0000000000000007 // 2: i64 count
		08 0003 00000002         // 3: app_id
		08 0004 00000003         // 4: partition_index
		0b 0006 00000000         // 6: server, empty
		00`)
}
