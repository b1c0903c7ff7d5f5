package pegasusrpc

import "testing"

func TestRequestMetaGolden(t *testing.T) {
	checkGolden(t, &RequestMeta{
		AppID:           2,
		PartitionIndex:  5,
		ClientTimeout:   1000,
		PartitionHash:   0x0123456789abcdef,
		IsBackupRequest: true,
	}, requestMetaGolden)
}

// requestMetaGolden is also the meta of the v1 frame golden in frame_test.go.
const requestMetaGolden = `
	08 0001 00000002          // 1: i32 app_id
	08 0002 00000005          // 2: i32 partition_index
	08 0003 000003e8          // 3: i32 client_timeout = 1000 ms
	0a 0004 0123456789abcdef  // 4: i64 partition_hash
	02 0005 01                // 5: bool is_backup_request
	00                        // STOP`
