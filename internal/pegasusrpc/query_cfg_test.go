package pegasusrpc

import "testing"

func TestQueryCfgRequestGolden(t *testing.T) {
	// What the Go client sends to open table "temp" (the body of the
	// captured request in frame_test.go).
	checkGolden(t, &QueryCfgRequest{AppName: "temp"}, `
		0b 0001 00000004 "temp"  // 1: string app_name
		0f 0002 08 00000000      // 2: list<i32> partition_indices, empty
		00                       // STOP`)

	checkGolden(t, &QueryCfgRequest{AppName: "t", PartitionIndices: []int32{1, 3}}, `
		0b 0001 00000001 "t"
		0f 0002 08 00000002 | 00000001 | 00000003 // two i32 elements
		00`)
}

func TestPartitionConfigurationGolden(t *testing.T) {
	checkGolden(t, &PartitionConfiguration{
		Pid:             Gpid{AppID: 2, PartitionIndex: 3},
		Ballot:          5,
		MaxReplicaCount: 3,
		Primary:         mustRPCAddress(t, "10.0.0.1:34801"),
		Secondaries:     []RPCAddress{mustRPCAddress(t, "10.0.0.2:34801"), mustRPCAddress(t, "10.0.0.3:34801")},
		// LastDrops nil: still written, as an empty list.
		LastCommittedDecree: 100,
		PartitionFlags:      0,
		HpPrimary:           Some(NewHostPort("n1", 34801)),
		HpSecondaries:       Some([]HostPort{NewHostPort("n2", 34801), NewHostPort("n3", 34801)}),
		// HpLastDrops unset: optional, so not written at all.
	}, `
		0c 0001 00000003 00000002     // 1: gpid as i64: partition_index<<32 | app_id
		0a 0002 0000000000000005      // 2: i64 ballot
		08 0003 00000003              // 3: i32 max_replica_count
		0c 0004 0a000001 87f1 0001    // 4: rpc_address 10.0.0.1:34801 = ip<<32 | port<<16 | IPv4
		0f 0005 0c 00000002           // 5: list<rpc_address>, STRUCT elements, 2 of them
		     0a000002 87f1 0001       //    10.0.0.2:34801, raw i64, no struct framing
		     0a000003 87f1 0001       //    10.0.0.3:34801
		0f 0006 0c 00000000           // 6: list<rpc_address> last_drops, empty
		0a 0007 0000000000000064      // 7: i64 last_committed_decree = 100
		08 0008 00000000              // 8: i32 partition_flags
		0c 0009 00000002 "n1" 87f1 01 // 9: host_port: string host, i16 port, byte type (no field headers)
		0f 000a 0c 00000002           // 10: list<host_port>
		     00000002 "n2" 87f1 01
		     00000002 "n3" 87f1 01
		00                            // STOP (11 is unset)`)
}

func TestQueryCfgResponseGolden(t *testing.T) {
	checkGolden(t, &QueryCfgResponse{
		Err:            CodeOK,
		AppID:          2,
		PartitionCount: 1,
		IsStateful:     true,
		Partitions: []PartitionConfiguration{{
			Pid:             Gpid{AppID: 2},
			Ballot:          1,
			MaxReplicaCount: 3,
			Primary:         mustRPCAddress(t, "127.0.0.1:34801"),
		}},
	}, `
		0c 0001 00000006 "ERR_OK" // 1: error_code: STRUCT header, payload is the name as a string
		08 0002 00000002          // 2: i32 app_id
		08 0003 00000001          // 3: i32 partition_count
		02 0004 01                // 4: bool is_stateful
		0f 0005 0c 00000001       // 5: list<partition_configuration>, one element:
		   0c 0001 0000000000000002 //   pid 2.0
		   0a 0002 0000000000000001 //   ballot 1
		   08 0003 00000003         //   max_replica_count 3
		   0c 0004 7f000001 87f1 0001 // primary 127.0.0.1:34801
		   0f 0005 0c 00000000      //   secondaries []
		   0f 0006 0c 00000000      //   last_drops []
		   0a 0007 0000000000000000 //   last_committed_decree 0
		   08 0008 00000000         //   partition_flags 0
		   00                       //   STOP of the element
		00                          // STOP`)
}
