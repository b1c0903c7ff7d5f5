package pegasusrpc

import "testing"

func TestGetScannerRequestGolden(t *testing.T) {
	checkGolden(t, &GetScannerRequest{
		StartKey:              []byte("\x00\x00"),
		StartInclusive:        true,
		BatchSize:             1000,
		ValidatePartitionHash: Some(true),
		ReturnExpireTs:        Some(false),
		FullScan:              Some(true),
		// OnlyReturnCount unset: not written.
	}, `
		0c 0001 00000002 0000 // 1: blob start_key, the empty full key
		0c 0002 00000000      // 2: blob stop_key, empty = to the end
		02 0003 01            // 3: start_inclusive
		02 0004 00            // 4: stop_inclusive
		08 0005 000003e8      // 5: batch_size = 1000
		02 0006 00            // 6: no_value
		08 0007 00000000      // 7: hash_key_filter_type = FT_NO_FILTER
		0c 0008 00000000      // 8: blob hash_key_filter_pattern
		08 0009 00000000      // 9: sort_key_filter_type
		0c 000a 00000000      // 10: blob sort_key_filter_pattern
		02 000b 01            // 11: optional validate_partition_hash
		02 000c 00            // 12: optional return_expire_ts = false, but set
		02 000d 01            // 13: optional full_scan
		00                    // STOP (14 only_return_count is unset)`)
}

func TestScanRequestGolden(t *testing.T) {
	checkGolden(t, &ScanRequest{ContextID: 17}, `
		0a 0001 0000000000000011 // 1: i64 context_id
		00`)
}

func TestScanResponseGolden(t *testing.T) {
	checkGolden(t, &ScanResponse{
		Kvs:            []KeyValue{{Key: []byte("\x00\x01hs"), Value: []byte("v")}},
		ContextID:      ScanContextCompleted,
		AppID:          2,
		PartitionIndex: 1,
		Server:         "s",
		KvCount:        Some(int32(1)),
	}, `
		08 0001 00000000                                      // 1: error
		0f 0002 0c 00000001                                   // 2: list<key_value>
		   0c 0001 00000004 0001 "hs" 0c 0002 00000001 "v" 00 //    full key, value
		0a 0003 ffffffffffffffff                              // 3: i64 context_id = -1, completed
		08 0004 00000002                                      // 4: app_id
		08 0005 00000001                                      // 5: partition_index
		0b 0006 00000001 "s"                                  // 6: server
		08 0007 00000001                                      // 7: optional i32 kv_count
		00`)
}
