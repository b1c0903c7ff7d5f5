package pegasusrpc

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

func mustRPCAddress(t testing.TB, s string) RPCAddress {
	t.Helper()
	a, err := ParseRPCAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBlobAndScanContextIDGolden(t *testing.T) {
	key := Blob("\x00\x01hs")
	checkGolden(t, &key, `00000004 0001 "hs"`) // binary: i32 length, bytes

	id := ScanContextID(-2)
	checkGolden(t, &id, `fffffffffffffffe`) // plain i64
}

func TestGpidEncoding(t *testing.T) {
	cases := []struct {
		gpid Gpid
		wire uint64
	}{
		{Gpid{AppID: 2, PartitionIndex: 3}, 0x00000003_00000002},
		{Gpid{AppID: 0, PartitionIndex: 0}, 0},
		// Negative app ids must not leak sign bits into the partition half.
		{Gpid{AppID: -1, PartitionIndex: 7}, 0x00000007_ffffffff},
		{Gpid{AppID: 1, PartitionIndex: -1}, 0xffffffff_00000001},
	}
	for _, c := range cases {
		if got := uint64(c.gpid.Int64()); got != c.wire {
			t.Errorf("%v.Int64() = %#016x, want %#016x", c.gpid, got, c.wire)
		}
		if got := GpidFromInt64(int64(c.wire)); got != c.gpid {
			t.Errorf("GpidFromInt64(%#016x) = %v, want %v", c.wire, got, c.gpid)
		}
	}
	if got := (Gpid{AppID: 3, PartitionIndex: 5}).ThreadHash(); got != 3*7919+5 {
		t.Errorf("ThreadHash = %d", got)
	}
}

func TestRPCAddress(t *testing.T) {
	a := mustRPCAddress(t, "10.0.0.1:34801")
	// ip<<32 | port<<16 | 1, the Go client's NewRPCAddress formula.
	if a != 0x0a000001_87f1_0001 {
		t.Fatalf("address = %#016x", uint64(a))
	}
	if a.String() != "10.0.0.1:34801" {
		t.Errorf("String() = %q", a.String())
	}
	ap, ok := a.AddrPort()
	if !ok || ap != netip.MustParseAddrPort("10.0.0.1:34801") {
		t.Errorf("AddrPort() = %v, %v", ap, ok)
	}

	// IPv4-mapped IPv6 is accepted; real IPv6 cannot be represented.
	if m, err := NewRPCAddress(netip.MustParseAddrPort("[::ffff:10.0.0.1]:34801")); err != nil || m != a {
		t.Errorf("mapped address = %v, %v", m, err)
	}
	if _, err := ParseRPCAddress("[::1]:34801"); err == nil {
		t.Error("IPv6 address accepted")
	}
	if _, err := ParseRPCAddress("not an address"); err == nil {
		t.Error("garbage accepted")
	}

	var invalid RPCAddress
	if invalid.IsValid() || invalid.String() != "invalid" {
		t.Errorf("zero address: valid=%v %q", invalid.IsValid(), invalid.String())
	}
	if _, ok := invalid.AddrPort(); ok {
		t.Error("zero address decoded")
	}
}

func TestOptional(t *testing.T) {
	var unset Optional[bool]
	if unset.Or(true) != true {
		t.Error("unset optional should yield the default")
	}
	if Some(false).Or(true) != false {
		t.Error("set optional should yield its value")
	}
}

func TestErrorCodeTable(t *testing.T) {
	// The Go client's table: 73 server errors plus ERR_SESSION_RESET.
	if len(knownErrorCodes) != 74 {
		t.Errorf("%d known error codes, want 74", len(knownErrorCodes))
	}
	for _, c := range []ErrorCode{CodeOK, CodeObjectNotFound, CodeInvalidState, CodeTimeout,
		CodeNotEnoughMember, CodeForwardToOthers, CodeInvalidData, CodeHandlerNotFound, CodeBusy,
		CodeCapacityExceeded, CodeSessionReset, CodeDiskInsufficient, CodeSplitting} {
		if !c.Known() {
			t.Errorf("%s not known", c)
		}
	}
	// Names the C++ server has but the Go client cannot parse.
	for _, c := range []ErrorCode{"ERR_LEARNER_NOT_FOUND", "ERR_RDB_CORRUPTION", "ERR_NOT_MATCHED", "", "err_ok"} {
		if c.Known() {
			t.Errorf("%q should not be known", c)
		}
	}
	if !CodeOK.IsOK() || CodeBusy.IsOK() {
		t.Error("IsOK")
	}
	var err error = CodeBusy
	if !errors.Is(err, CodeBusy) {
		t.Error("an ErrorCode used as error should match itself")
	}
}

func TestEnumAndStatusNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{StatusTryAgain.String(), "TryAgain"},
		{StorageStatus(99).String(), "StorageStatus(99)"},
		{FilterMatchPostfix.String(), "FT_MATCH_POSTFIX"},
		{CheckValueIntGreater.String(), "CT_VALUE_INT_GREATER"},
		{CASCheckType(-1).String(), "CASCheckType(-1)"},
		{UpdateCheckAndMutateRemove.String(), "UT_CHECK_AND_MUTATE_REMOVE"},
		{MutateDelete.String(), "MO_DELETE"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestHostPortIsNotSkippableAsStruct shows why PartitionConfiguration's
// host_port fields must stay unset for old clients: a reader that does not
// know the field skips it as a STRUCT (its header type), and apache/thrift's
// skip stops at the first zero byte of the host length instead of at the
// end of the host_port.
func TestHostPortIsNotSkippableAsStruct(t *testing.T) {
	wire := appendHostPort(nil, NewHostPort("node-1", 34801))
	buf := thrift.NewTMemoryBufferLen(len(wire))
	buf.Write(wire)
	if err := thrift.NewTBinaryProtocolConf(buf, nil).Skip(context.Background(), thrift.STRUCT); err != nil {
		t.Fatal(err)
	}
	if consumed := len(wire) - buf.Len(); consumed == len(wire) {
		t.Fatalf("skip consumed the whole host_port; old clients would cope")
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Gpid{AppID: 3, PartitionIndex: 7}.String(), "3.7"},
		{NewHostPort("node-1", 34801).String(), "node-1:34801"},
		{CodeInvalidState.String(), "ERR_INVALID_STATE"},
		{CodeBusy.Error(), "pegasusrpc: rpc error ERR_BUSY"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
