package pegasusrpc

import "testing"

func TestMultiGetRequestGolden(t *testing.T) {
	checkGolden(t, &MultiGetRequest{
		HashKey:              []byte("h"),
		MaxKvCount:           100,
		MaxKvSize:            1000000,
		StartSortkey:         []byte("a"),
		StopSortkey:          []byte("z"),
		StartInclusive:       true,
		SortKeyFilterType:    FilterMatchPrefix,
		SortKeyFilterPattern: []byte("p"),
		Reverse:              true,
	}, `
		0c 0001 00000001 "h" // 1: blob hash_key
		0f 0002 0c 00000000  // 2: list<blob> sort_keys, empty = range query
		08 0003 00000064     // 3: max_kv_count = 100
		08 0004 000f4240     // 4: max_kv_size = 1000000
		02 0005 00           // 5: no_value
		0c 0006 00000001 "a" // 6: blob start_sortkey
		0c 0007 00000001 "z" // 7: blob stop_sortkey
		02 0008 01           // 8: start_inclusive
		02 0009 00           // 9: stop_inclusive
		08 000a 00000002     // 10: filter_type = FT_MATCH_PREFIX
		0c 000b 00000001 "p" // 11: blob sort_key_filter_pattern
		02 000c 01           // 12: reverse
		00`)
}

func TestMultiGetResponseGolden(t *testing.T) {
	checkGolden(t, &MultiGetResponse{
		Error:          StatusIncomplete,
		Kvs:            []KeyValue{{Key: []byte("a"), Value: []byte("1")}},
		AppID:          2,
		PartitionIndex: 1,
		Server:         "s",
	}, `
		08 0001 00000007                                 // 1: error = Incomplete
		0f 0002 0c 00000001                              // 2: list<key_value>, 1 struct
		   0c 0001 00000001 "a" 0c 0002 00000001 "1" 00
		08 0003 00000002                                 // 3: app_id
		08 0004 00000001                                 // 4: partition_index
		0b 0006 00000001 "s"                             // 6: server
		00`)
}
