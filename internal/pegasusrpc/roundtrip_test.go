package pegasusrpc

import (
	"reflect"
	"testing"
)

// Populated samples: every field set to a distinct non-zero value and
// every optional present, so a field dropped or swapped by an encoder or
// decoder shows up as a difference.

func sampleKeyValue(i byte) KeyValue {
	return KeyValue{Key: []byte{'k', i}, Value: []byte{'v', i, 0xff}, ExpireTsSeconds: Some(int32(i) + 1000)}
}

func samplePartition(pidx int32) PartitionConfiguration {
	return PartitionConfiguration{
		Pid:                 Gpid{AppID: 7, PartitionIndex: pidx},
		Ballot:              11 + int64(pidx),
		MaxReplicaCount:     3,
		Primary:             RPCAddress(0x0a000001_87f1_0001),
		Secondaries:         []RPCAddress{0x0a000002_87f1_0001, 0x0a000003_87f1_0001},
		LastDrops:           []RPCAddress{0x0a000004_87f1_0001},
		LastCommittedDecree: 1 << 33,
		PartitionFlags:      1,
		HpPrimary:           Some(NewHostPort("node-1.example", 34801)),
		HpSecondaries:       Some([]HostPort{NewHostPort("node-2", 34801), {Host: "g", Port: 1, Type: HostPortGroup}}),
		HpLastDrops:         Some([]HostPort(nil)),
	}
}

// sampleArgs returns a populated argument for every RPC.
func sampleArgs(r RPC) Value {
	key := Blob("\x00\x04user42")
	switch r {
	case RPCQueryConfig:
		return &QueryCfgRequest{AppName: "orders", PartitionIndices: []int32{0, 5, 7}}
	case RPCPut:
		return &UpdateRequest{
			Key: []byte("\x00\x01hs"), Value: []byte("value"), ExpireTsSeconds: 86400,
			Type: Some(UpdateIncr), CheckValueReturned: Some(true), CheckValueExist: Some(true), CheckValue: Some([]byte("cv")),
		}
	case RPCMultiPut:
		return &MultiPutRequest{HashKey: []byte("h"), Kvs: []KeyValue{sampleKeyValue(1), sampleKeyValue(2)}, ExpireTsSeconds: 60}
	case RPCRemove, RPCGet, RPCTTL, RPCSortkeyCount:
		return &key
	case RPCMultiRemove:
		return &MultiRemoveRequest{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a"), []byte("b")}, MaxCount: 9}
	case RPCIncr:
		return &IncrRequest{Key: []byte("\x00\x01hc"), Increment: -42, ExpireTsSeconds: -1}
	case RPCCheckAndSet:
		return &CheckAndSetRequest{
			HashKey: []byte("h"), CheckSortKey: []byte("c"), CheckType: CheckValueIntGreater, CheckOperand: []byte("10"),
			SetDiffSortKey: true, SetSortKey: []byte("s"), SetValue: []byte("v"), SetExpireTsSeconds: 5, ReturnCheckValue: true,
		}
	case RPCCheckAndMutate:
		return &CheckAndMutateRequest{
			HashKey: []byte("h"), CheckSortKey: []byte("c"), CheckType: CheckValueBytesEqual, CheckOperand: []byte("x"),
			MutateList: []Mutate{
				{Operation: MutatePut, SortKey: []byte("a"), Value: []byte("1"), SetExpireTsSeconds: 3},
				{Operation: MutateDelete, SortKey: []byte("b")},
			},
			ReturnCheckValue: true,
		}
	case RPCMultiGet:
		return &MultiGetRequest{
			HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a")}, MaxKvCount: 10, MaxKvSize: 4096, NoValue: true,
			StartSortkey: []byte("a"), StopSortkey: []byte("z"), StartInclusive: true, StopInclusive: true,
			SortKeyFilterType: FilterMatchAnywhere, SortKeyFilterPattern: []byte("mid"), Reverse: true,
		}
	case RPCBatchGet:
		return &BatchGetRequest{Keys: []FullKey{{HashKey: []byte("h1"), SortKey: []byte("s1")}, {HashKey: []byte("h2")}}}
	case RPCGetScanner:
		return &GetScannerRequest{
			StartKey: []byte("\x00\x01a"), StopKey: []byte("\x00\x01b"), StartInclusive: true, StopInclusive: true,
			BatchSize: 100, NoValue: true, HashKeyFilterType: FilterMatchPrefix, HashKeyFilterPattern: []byte("p"),
			SortKeyFilterType: FilterMatchPostfix, SortKeyFilterPattern: []byte("q"),
			ValidatePartitionHash: Some(false), ReturnExpireTs: Some(true), FullScan: Some(true), OnlyReturnCount: Some(true),
		}
	case RPCScan:
		return &ScanRequest{ContextID: 123456789}
	case RPCClearScanner:
		id := ScanContextID(987654321)
		return &id
	}
	return nil
}

// sampleResult returns a populated result for every two-way RPC.
func sampleResult(r RPC) Value {
	switch r {
	case RPCQueryConfig:
		return &QueryCfgResponse{
			Err: CodeForwardToOthers, AppID: 7, PartitionCount: 2, IsStateful: true,
			Partitions: []PartitionConfiguration{samplePartition(0), samplePartition(1)},
		}
	case RPCPut, RPCMultiPut, RPCRemove:
		return &UpdateResponse{Error: StatusIOError, AppID: 7, PartitionIndex: 3, Decree: 1 << 40, Server: "10.0.0.1:34801"}
	case RPCMultiRemove:
		return &MultiRemoveResponse{Error: StatusBusy, Count: 12, AppID: 7, PartitionIndex: 3, Decree: 99, Server: "s"}
	case RPCIncr:
		return &IncrResponse{Error: StatusInvalidArgument, NewValue: -3, AppID: 7, PartitionIndex: 3, Decree: 4, Server: "s"}
	case RPCCheckAndSet:
		return &CheckAndSetResponse{
			Error: StatusTryAgain, CheckValueReturned: true, CheckValueExist: true, CheckValue: []byte("old"),
			AppID: 7, PartitionIndex: 3, Decree: 5, Server: "s",
		}
	case RPCCheckAndMutate:
		return &CheckAndMutateResponse{
			Error: StatusOK, CheckValueReturned: true, CheckValueExist: false, CheckValue: []byte("c"),
			AppID: 7, PartitionIndex: 3, Decree: 6, Server: "s",
		}
	case RPCGet:
		return &ReadResponse{Error: StatusNotFound, Value: []byte("val"), AppID: 7, PartitionIndex: 3, Server: "s"}
	case RPCMultiGet:
		return &MultiGetResponse{Error: StatusIncomplete, Kvs: []KeyValue{sampleKeyValue(3)}, AppID: 7, PartitionIndex: 3, Server: "s"}
	case RPCBatchGet:
		return &BatchGetResponse{
			Error: StatusCorruption, AppID: 7, PartitionIndex: 3, Server: "s",
			Data: []FullData{{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}},
		}
	case RPCSortkeyCount:
		return &CountResponse{Error: StatusExpired, Count: 1 << 35, AppID: 7, PartitionIndex: 3, Server: "s"}
	case RPCTTL:
		return &TTLResponse{Error: StatusAborted, TTLSeconds: 3600, AppID: 7, PartitionIndex: 3, Server: "s"}
	case RPCGetScanner, RPCScan:
		return &ScanResponse{
			Error: StatusTimedOut, Kvs: []KeyValue{sampleKeyValue(4), sampleKeyValue(5)}, ContextID: 77,
			AppID: 7, PartitionIndex: 3, Server: "s", KvCount: Some(int32(2)),
		}
	}
	return nil
}

func allRPCs() []RPC {
	var rs []RPC
	for r := RPCInvalid + 1; r < numRPCs; r++ {
		rs = append(rs, r)
	}
	return rs
}

// TestStructRoundTrip encodes and decodes every struct of the package,
// including those only reachable nested inside others.
func TestStructRoundTrip(t *testing.T) {
	values := []Value{
		&RequestMeta{AppID: -1, PartitionIndex: 2, ClientTimeout: 3, PartitionHash: 1 << 63, IsBackupRequest: true},
		func() *PartitionConfiguration { p := samplePartition(9); return &p }(),
		func() *KeyValue { kv := sampleKeyValue(9); return &kv }(),
		&FullKey{HashKey: []byte("h"), SortKey: []byte("s")},
		&FullData{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")},
		&Mutate{Operation: MutatePut, SortKey: []byte("s"), Value: []byte("v"), SetExpireTsSeconds: 1},
	}
	for _, r := range allRPCs() {
		values = append(values, sampleArgs(r))
		if res := sampleResult(r); res != nil {
			values = append(values, res)
		}
	}
	// A field a newer peer might add (id 99, a list of strings) must be
	// skipped wherever it appears among the known ones.
	unknown := unhex(t, `0f 0063 0b 00000002 00000001 "x" 00000000`)
	for _, want := range values {
		wire := want.appendValue(nil)
		inputs := [][]byte{wire}
		switch want.(type) {
		case *Blob, *ScanContextID: // not structs: no fields to add
		default:
			inputs = append(inputs, append(append([]byte(nil), unknown...), wire...))
		}
		for _, in := range inputs {
			got := reflect.New(reflect.TypeOf(want).Elem()).Interface().(Value)
			d := decoder{buf: in}
			got.readValue(&d)
			if d.err != nil || d.off != len(in) {
				t.Errorf("%T: err=%v, consumed %d of %d", want, d.err, d.off, len(in))
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%T round trip:\n got %+v\nwant %+v", want, got, want)
			}
		}
	}
}

// TestRPCRoundTrip sends every RPC through the full client and server
// paths, in both header versions: AppendRequest, ReadRequestFrame,
// DecodeRequest on one side; AppendResponse, ReadResponseFrame,
// DecodeResponse on the other.
func TestRPCRoundTrip(t *testing.T) {
	for _, r := range allRPCs() {
		args, result := sampleArgs(r), sampleResult(r)
		if args == nil {
			t.Fatalf("%s has no sample argument", r)
		}
		if (result == nil) != r.Oneway() {
			t.Fatalf("%s: sample result %v but oneway=%v", r, result, r.Oneway())
		}
		for _, version := range []uint32{HeaderVersion0, HeaderVersion1} {
			header := RequestHeader{
				Version:         version,
				Gpid:            Gpid{AppID: 7, PartitionIndex: 3},
				ClientTimeout:   2500,
				ThreadHash:      Gpid{AppID: 7, PartitionIndex: 3}.ThreadHash(),
				PartitionHash:   HashKeyHash([]byte("user42")),
				IsBackupRequest: version == HeaderVersion1 && r == RPCGet,
			}
			sent := Request{Header: header, RPC: r, SeqID: int32(r) * 10, Args: args}
			wire, err := AppendRequest(nil, &sent)
			if err != nil {
				t.Fatalf("%s v%d: %v", r, version, err)
			}
			frame, err := ReadRequestFrame(readerOf(wire), 0)
			if err != nil {
				t.Fatalf("%s v%d: %v", r, version, err)
			}
			got, err := DecodeRequest(frame)
			if err != nil {
				t.Fatalf("%s v%d: %v", r, version, err)
			}
			want := sent
			want.Name, want.Type = r.String(), MessageCall
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s v%d request:\n got %+v\nwant %+v", r, version, got, want)
			}
		}
		if r.Oneway() {
			continue
		}
		for _, code := range []ErrorCode{CodeOK, CodeInvalidState} {
			wire, err := AppendResponse(nil, r, -5, code, result)
			if err != nil {
				t.Fatalf("%s %s: %v", r, code, err)
			}
			frame, err := ReadResponseFrame(readerOf(wire), 0)
			if err != nil {
				t.Fatalf("%s %s: %v", r, code, err)
			}
			got, err := DecodeResponse(frame)
			if err != nil {
				t.Fatalf("%s %s: %v", r, code, err)
			}
			want := Response{RPC: r, Name: r.AckName(), SeqID: -5, Err: code}
			if code.IsOK() {
				want.Result = result
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s response:\n got %+v\nwant %+v", r, code, got, want)
			}
		}
	}
}
