package pegasusrpc

import "testing"

func TestFullKeyGolden(t *testing.T) {
	checkGolden(t, &FullKey{HashKey: []byte("h"), SortKey: []byte("s")}, `
		0c 0001 00000001 "h" // 1: blob hash_key
		0c 0002 00000001 "s" // 2: blob sort_key
		00`)
}

func TestBatchGetRequestGolden(t *testing.T) {
	checkGolden(t, &BatchGetRequest{Keys: []FullKey{
		{HashKey: []byte("h"), SortKey: []byte("a")},
		{HashKey: []byte("h"), SortKey: []byte("b")},
	}}, `
		0f 0001 0c 00000002                              // 1: list<full_key>, 2 structs
		   0c 0001 00000001 "h" 0c 0002 00000001 "a" 00
		   0c 0001 00000001 "h" 0c 0002 00000001 "b" 00
		00`)
}

func TestFullDataGolden(t *testing.T) {
	checkGolden(t, &FullData{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}, `
		0c 0001 00000001 "h" // 1: blob hash_key
		0c 0002 00000001 "s" // 2: blob sort_key
		0c 0003 00000001 "v" // 3: blob value
		00`)
}

func TestBatchGetResponseGolden(t *testing.T) {
	checkGolden(t, &BatchGetResponse{
		Data:           []FullData{{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}},
		AppID:          2,
		PartitionIndex: 1,
		Server:         "s",
	}, `
		08 0001 00000000                                                      // 1: error
		0f 0002 0c 00000001                                                   // 2: list<full_data>
		   0c 0001 00000001 "h" 0c 0002 00000001 "s" 0c 0003 00000001 "v" 00
		08 0003 00000002                                                      // 3: app_id
		08 0004 00000001                                                      // 4: partition_index
		0b 0006 00000001 "s"                                                  // 6: server
		00`)
}
