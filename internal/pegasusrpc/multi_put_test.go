package pegasusrpc

import "testing"

func TestKeyValueGolden(t *testing.T) {
	checkGolden(t, &KeyValue{Key: []byte("k"), Value: []byte("v"), ExpireTsSeconds: Some(int32(100))}, `
		0c 0001 00000001 "k" // 1: blob key
		0c 0002 00000001 "v" // 2: blob value
		08 0003 00000064     // 3: optional i32 expire_ts_seconds = 100
		00`)
}

func TestMultiPutRequestGolden(t *testing.T) {
	checkGolden(t, &MultiPutRequest{
		HashKey: []byte("h"),
		Kvs: []KeyValue{
			{Key: []byte("k1"), Value: []byte("v1")},
			{Key: []byte("k2"), Value: []byte("v2")},
		},
	}, `
		0c 0001 00000001 "h"                              // 1: blob hash_key
		0f 0002 0c 00000002                               // 2: list<key_value>, 2 structs
		   0c 0001 00000002 "k1" 0c 0002 00000002 "v1" 00 //    {sort key, value}, no expire
		   0c 0001 00000002 "k2" 0c 0002 00000002 "v2" 00
		08 0003 00000000                                  // 3: i32 expire_ts_seconds
		00`)
}
