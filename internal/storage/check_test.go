package storage

import (
	"errors"
	"math"
	"testing"
)

func TestParseCInt64(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"123", 123, true},
		{"-123", -123, true},
		{"+5", 5, true},
		{" 42", 42, true},
		{"\t\n\v\f\r-7", -7, true},
		{"0x1F", 31, true},
		{"0X1f", 31, true},
		{"-0x10", -16, true},
		{"010", 8, true},
		{"00", 0, true},
		{"0x0", 0, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"0x7fffffffffffffff", math.MaxInt64, true},
		{"-0x8000000000000000", math.MinInt64, true},
		{"0777777777777777777777", math.MaxInt64, true},

		{"", 0, false},
		{" ", 0, false},
		{"-", 0, false},
		{"12 ", 0, false},   // trailing bytes are not consumed
		{"1\x00", 0, false}, // nor is a NUL
		{"08", 0, false},    // 8 is not an octal digit
		{"0x", 0, false},
		{"0xg", 0, false},
		{"0b1", 0, false},
		{"+-1", 0, false},
		{"--1", 0, false},
		{"1e3", 0, false},
		{"abc", 0, false},
		{"1_000", 0, false},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"0x8000000000000000", 0, false},
		{"99999999999999999999999", 0, false},
	} {
		got, ok := parseCInt64([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseCInt64(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckTypePasses(t *testing.T) {
	const absent = "\x00absent" // marker: the checked record does not exist
	for _, tc := range []struct {
		check   CheckType
		operand string
		value   string
		want    bool
		wantErr error
	}{
		{CheckNone, "", absent, true, nil},
		{CheckNone, "", "x", true, nil},

		{CheckValueNotExist, "", absent, true, nil},
		{CheckValueNotExist, "", "", false, nil},
		{CheckValueNotExistOrEmpty, "", absent, true, nil},
		{CheckValueNotExistOrEmpty, "", "", true, nil},
		{CheckValueNotExistOrEmpty, "", "x", false, nil},
		{CheckValueExist, "", "", true, nil},
		{CheckValueExist, "", absent, false, nil},
		{CheckValueNotEmpty, "", "x", true, nil},
		{CheckValueNotEmpty, "", "", false, nil},
		{CheckValueNotEmpty, "", absent, false, nil},

		{CheckMatchAnywhere, "ell", "hello", true, nil},
		{CheckMatchAnywhere, "", "", true, nil},
		{CheckMatchAnywhere, "", absent, false, nil},
		{CheckMatchAnywhere, "hello!", "hello", false, nil},
		{CheckMatchPrefix, "he", "hello", true, nil},
		{CheckMatchPrefix, "lo", "hello", false, nil},
		{CheckMatchPostfix, "lo", "hello", true, nil},
		{CheckMatchPostfix, "he", "hello", false, nil},

		{CheckBytesLess, "b", "a", true, nil},
		{CheckBytesLess, "a", "a", false, nil},
		{CheckBytesLess, "a", "", true, nil},
		{CheckBytesLess, "a", absent, false, nil},
		{CheckBytesLessOrEqual, "a", "a", true, nil},
		{CheckBytesLessOrEqual, "a", "b", false, nil},
		{CheckBytesEqual, "a", "a", true, nil},
		{CheckBytesEqual, "a", "ab", false, nil},
		{CheckBytesGreaterOrEqual, "a", "a", true, nil},
		{CheckBytesGreaterOrEqual, "b", "a", false, nil},
		{CheckBytesGreater, "a", "ab", true, nil},
		{CheckBytesGreater, "a", "a", false, nil},
		// Bytes order is not numeric order.
		{CheckBytesGreater, "9", "10", false, nil},

		{CheckIntLess, "10", "9", true, nil},
		{CheckIntLess, "9", "9", false, nil},
		{CheckIntLessOrEqual, "9", "9", true, nil},
		{CheckIntLessOrEqual, "-1", "0", false, nil},
		{CheckIntEqual, "0x10", "16", true, nil},
		{CheckIntEqual, "16", "17", false, nil},
		{CheckIntGreaterOrEqual, "-5", "-5", true, nil},
		{CheckIntGreaterOrEqual, "0", "-5", false, nil},
		{CheckIntGreater, "9", "10", true, nil},
		{CheckIntGreater, "10", "10", false, nil},
		{CheckIntGreater, "1", absent, false, nil},
		{CheckIntEqual, "1", "one", false, ErrCheckNotInteger},
		{CheckIntEqual, "one", "1", false, ErrCheckNotInteger},
		{CheckIntEqual, "1", "", false, ErrCheckNotInteger},
		{CheckIntEqual, "", "1", false, ErrCheckNotInteger},

		{CheckType(18), "", "x", false, ErrInvalidCheckType},
	} {
		exist := tc.value != absent
		value := []byte(tc.value)
		if !exist {
			value = nil
		}
		got, err := tc.check.passes([]byte(tc.operand), exist, value)
		if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s operand %q value %q: passes = %v, %v; want %v, %v",
				tc.check, tc.operand, tc.value, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCheckTypeNames(t *testing.T) {
	if CheckIntGreater.String() != "CT_VALUE_INT_GREATER" || CheckNone.String() != "CT_NO_CHECK" {
		t.Fatalf("names do not line up with values: %s, %s", CheckIntGreater, CheckNone)
	}
	if CheckType(18).valid() || CheckType(18).String() != "CheckType(18)" {
		t.Fatalf("CheckType(18) is valid or misnamed")
	}
}
