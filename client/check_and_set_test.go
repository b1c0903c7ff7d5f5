package client

import (
	"errors"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestCheckAndSetEveryType runs each condition once where it passes and
// once where it fails, against the record "c" = "15" (plus "empty" = "" and
// a missing record). The operands are chosen so that a bytewise and an
// integer comparison disagree, and the wire code each condition travels as
// is checked by name: no condition may silently turn into another.
func TestCheckAndSetEveryType(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	var wire pb.CheckType
	fc.replicas[0].setHook(func(req *pb.ClientRequest) fault {
		if cas := req.GetCheckAndSet(); cas != nil {
			wire = cas.CheckType
		}
		return fault{}
	})

	type probe struct {
		sortKey, operand string
		pass             bool
	}
	cases := []struct {
		ct     CheckType
		wire   string
		probes []probe
	}{
		{CheckNoCheck, "CT_NO_CHECK", []probe{{"missing", "", true}, {"c", "", true}}},
		{CheckValueNotExist, "CT_VALUE_NOT_EXIST", []probe{{"missing", "", true}, {"c", "", false}}},
		{CheckValueNotExistOrEmpty, "CT_VALUE_NOT_EXIST_OR_EMPTY", []probe{{"empty", "", true}, {"c", "", false}}},
		{CheckValueExist, "CT_VALUE_EXIST", []probe{{"c", "", true}, {"missing", "", false}}},
		{CheckValueNotEmpty, "CT_VALUE_NOT_EMPTY", []probe{{"c", "", true}, {"empty", "", false}}},
		{CheckValueMatchAnywhere, "CT_VALUE_MATCH_ANYWHERE", []probe{{"c", "5", true}, {"c", "7", false}}},
		{CheckValueMatchPrefix, "CT_VALUE_MATCH_PREFIX", []probe{{"c", "1", true}, {"c", "5", false}}},
		{CheckValueMatchPostfix, "CT_VALUE_MATCH_POSTFIX", []probe{{"c", "5", true}, {"c", "1", false}}},
		{CheckValueBytesLess, "CT_VALUE_BYTES_LESS", []probe{{"c", "2", true}, {"c", "15", false}}},
		{CheckValueBytesLessOrEqual, "CT_VALUE_BYTES_LESS_OR_EQUAL", []probe{{"c", "15", true}, {"c", "14", false}}},
		{CheckValueBytesEqual, "CT_VALUE_BYTES_EQUAL", []probe{{"c", "15", true}, {"c", "015", false}}},
		{CheckValueBytesGreaterOrEqual, "CT_VALUE_BYTES_GREATER_OR_EQUAL", []probe{{"c", "100", true}, {"c", "9", false}}},
		{CheckValueBytesGreater, "CT_VALUE_BYTES_GREATER", []probe{{"c", "100", true}, {"c", "15", false}}},
		{CheckValueIntLess, "CT_VALUE_INT_LESS", []probe{{"c", "100", true}, {"c", "15", false}}},
		{CheckValueIntLessOrEqual, "CT_VALUE_INT_LESS_OR_EQUAL", []probe{{"c", "15", true}, {"c", "9", false}}},
		{CheckValueIntEqual, "CT_VALUE_INT_EQUAL", []probe{{"c", "015", true}, {"c", "16", false}}},
		{CheckValueIntGreaterOrEqual, "CT_VALUE_INT_GREATER_OR_EQUAL", []probe{{"c", "9", true}, {"c", "16", false}}},
		{CheckValueIntGreater, "CT_VALUE_INT_GREATER", []probe{{"c", "9", true}, {"c", "100", false}}},
	}
	if len(cases) != int(checkTypeEnd)-1 {
		t.Fatalf("%d cases for %d check types", len(cases), int(checkTypeEnd)-1)
	}
	for _, tc := range cases {
		if tc.ct.String() != tc.wire {
			t.Errorf("%v.String() = %s, want %s", int(tc.ct), tc.ct, tc.wire)
		}
		for _, p := range tc.probes {
			tbl.Set(ctx, b("h"), b("c"), b("15"), 0)
			tbl.Set(ctx, b("h"), b("empty"), nil, 0)
			tbl.Del(ctx, b("h"), b("target"))
			check := Check{SortKey: b(p.sortKey), Type: tc.ct}
			if p.operand != "" {
				check.Operand = b(p.operand)
			}
			res, err := tbl.CheckAndSet(ctx, b("h"), check, b("target"), b("written"), nil)
			if err != nil {
				t.Fatalf("%s on %q with %q: %v", tc.wire, p.sortKey, p.operand, err)
			}
			if wire.String() != tc.wire {
				t.Fatalf("%s travelled as %s", tc.wire, wire)
			}
			_, written, _ := tbl.Get(ctx, b("h"), b("target"))
			if res.Applied != p.pass || written != p.pass {
				t.Errorf("%s on %q with %q: Applied=%v written=%v, want %v", tc.wire, p.sortKey, p.operand, res.Applied, written, p.pass)
			}
		}
	}
}

func TestCheckAndSetOptions(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	tbl.Set(ctx, b("h"), b("k"), b("old"), 0)

	// Same sort key, TTL, and the checked value returned.
	res, err := tbl.CheckAndSet(ctx, b("h"), Check{SortKey: b("k"), Type: CheckValueBytesEqual, Operand: b("old")}, b("k"), b("new"),
		&CheckAndSetOptions{TTL: time.Minute, ReturnCheckValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied || !res.CheckValueReturned || !res.CheckValueExists || string(res.CheckValue) != "old" {
		t.Fatalf("result %+v", res)
	}
	v, _, _ := tbl.Get(ctx, b("h"), b("k"))
	ttl, _, _ := tbl.TTL(ctx, b("h"), b("k"))
	if string(v) != "new" || ttl != time.Minute {
		t.Fatalf("record after CheckAndSet = %q ttl %v", v, ttl)
	}

	// A failed check writes nothing and is not an error.
	res, err = tbl.CheckAndSet(ctx, b("h"), Check{SortKey: b("k"), Type: CheckValueNotExist}, b("k"), b("newer"), nil)
	if err != nil || res.Applied || res.CheckValueReturned {
		t.Fatalf("failed check: %+v, %v", res, err)
	}
	if v, _, _ := tbl.Get(ctx, b("h"), b("k")); string(v) != "new" {
		t.Fatalf("a failed check wrote %q", v)
	}
}

func TestCheckAndSetValidation(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	for name, check := range map[string]Check{
		"type not set":           {SortKey: b("k")},
		"type out of range":      {SortKey: b("k"), Type: checkTypeEnd},
		"operand on exist check": {SortKey: b("k"), Type: CheckValueExist, Operand: b("x")},
		"int check, not an int":  {SortKey: b("k"), Type: CheckValueIntLess, Operand: b("ten")},
		"int check, no operand":  {SortKey: b("k"), Type: CheckValueIntEqual},
	} {
		if _, err := tbl.CheckAndSet(ctx, b("h"), check, b("k"), b("v"), nil); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := tbl.CheckAndSet(ctx, nil, Check{Type: CheckNoCheck}, nil, b("v"), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty hash key: err = %v, want ErrInvalidArgument", err)
	}
	if n := fc.replicas[0].requests.Load(); n != 0 {
		t.Fatalf("%d invalid requests were sent", n)
	}
}
