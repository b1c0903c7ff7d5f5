package redisproxy

import (
	"strconv"
	"testing"
)

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"-7", -7, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1.0", 0, false},
		{"0x10", 0, false},
		{"12a", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseInt: parseInt accepts exactly the canonical decimal forms of
// int64, the strings strconv.FormatInt produces.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "42", "01", "-0", "+5", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt([]byte(s))
		v, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(v, 10) == s
		if ok != canonical || (ok && got != v) {
			t.Fatalf("parseInt(%q) = %d, %v; strconv says %d, canonical %v", s, got, ok, v, canonical)
		}
	})
}

func TestLookupIgnoresCase(t *testing.T) {
	for _, name := range []string{"get", "GET", "gEt"} {
		if c, ok := lookup([]byte(name)); !ok || c.name != "get" {
			t.Errorf("lookup(%q) = %v, %v", name, c, ok)
		}
	}
	for _, name := range []string{"", "ge", "gett", "averyveryverylongname"} {
		if _, ok := lookup([]byte(name)); ok {
			t.Errorf("lookup(%q) found a command", name)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	name := []byte("MGET")
	if n := testing.AllocsPerRun(100, func() { lookup(name) }); n != 0 {
		t.Errorf("lookup allocates %v times", n)
	}
}

// TestCommandTableKeys: every command's key positions fit its arity, so
// argument checking, COMMAND and pipeline ordering agree.
func TestCommandTableKeys(t *testing.T) {
	for name, c := range commands {
		if c.firstKey == 0 {
			if c.lastKey != 0 || c.keyStep != 0 || !c.local {
				t.Errorf("%s: keyless command with key positions or a backend", name)
			}
			continue
		}
		min := c.arity
		if min < 0 {
			min = -min
		}
		if c.firstKey >= min || c.keyStep <= 0 || c.local {
			t.Errorf("%s: key positions %d..%d/%d do not fit arity %d", name, c.firstKey, c.lastKey, c.keyStep, c.arity)
		}
	}
}
