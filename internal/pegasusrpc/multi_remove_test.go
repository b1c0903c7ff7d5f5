package pegasusrpc

import "testing"

func TestMultiRemoveRequestGolden(t *testing.T) {
	checkGolden(t, &MultiRemoveRequest{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a"), []byte("bc")}}, `
		0c 0001 00000001 "h"       // 1: blob hash_key
		0f 0002 0c 00000002        // 2: list<blob>: element type STRUCT, 2 elements
		   00000001 "a"            //    raw binary, no struct framing
		   00000002 "bc"
		0a 0003 0000000000000000   // 3: i64 max_count (deprecated)
		00`)
}

func TestMultiRemoveResponseGolden(t *testing.T) {
	checkGolden(t, &MultiRemoveResponse{Count: 2, AppID: 2, Decree: 9, Server: "s"}, `
		08 0001 00000000         // 1: error
		0a 0002 0000000000000002 // 2: i64 count
		08 0003 00000002         // 3: app_id
		08 0004 00000000         // 4: partition_index
		0a 0005 0000000000000009 // 5: i64 decree
		0b 0006 00000001 "s"     // 6: server
		00`)
}
