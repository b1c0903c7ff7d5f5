package shell

import (
	"errors"
	"reflect"
	"testing"
)

func TestTokenize(t *testing.T) {
	for line, want := range map[string][]string{
		"":                           nil,
		"  nodes   -d ":              {"nodes", "-d"},
		`set a b "hello world"`:      {"set", "a", "b", "hello world"},
		`set a b "x\"y\\z\n\t\x41"`:  {"set", "a", "b", "x\"y\\z\n\tA"},
		`set 'a b' 'c\d' e`:          {"set", "a b", `c\d`, "e"},
		`set a"b"'c' d`:              {"set", "abc", "d"},
		`get "" ""`:                  {"get", "", ""},
		"remote_command -l a,b x 1":  {"remote_command", "-l", "a,b", "x", "1"},
		"set\ta\tb\tc":               {"set", "a", "b", "c"},
		`set a b "\x00\xff"`:         {"set", "a", "b", "\x00\xff"},
		`set a b "semi;colon"`:       {"set", "a", "b", "semi;colon"},
		`set a b "trailing \\"`:      {"set", "a", "b", `trailing \`},
		`set a b "\q"`:               {"set", "a", "b", "q"},
		`set a b "emoji ☃"`:          {"set", "a", "b", "emoji ☃"},
		`set a b "tab	inside"`:       {"set", "a", "b", "tab\tinside"},
		`set a b 'single "double"'`:  {"set", "a", "b", `single "double"`},
		`set a b "double 'single'"`:  {"set", "a", "b", `double 'single'`},
		`set a b ""x`:                {"set", "a", "b", "x"},
		`set a b c"d e"f`:            {"set", "a", "b", "cd ef"},
		`set a b "\x4a\x4B"`:         {"set", "a", "b", "JK"},
		`set a b "\0"`:               {"set", "a", "b", "\x00"},
		`set a b "\r"`:               {"set", "a", "b", "\r"},
		`set a b "x" "y"`:            {"set", "a", "b", "x", "y"},
		`   `:                        nil,
		`ls -d --json`:               {"ls", "-d", "--json"},
		`use "table with spaces"`:    {"use", "table with spaces"},
		`set h s "multi word value"`: {"set", "h", "s", "multi word value"},
	} {
		got, err := tokenize(line)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("tokenize(%q) = %q, %v; want %q", line, got, err, want)
		}
	}
	for _, bad := range []string{`set "a`, `set 'a`, `set "\x4"`, `set "\xzz"`, `set "a\`} {
		if _, err := tokenize(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("tokenize(%q): %v, want ErrUsage", bad, err)
		}
	}
}

func TestSplitScript(t *testing.T) {
	for script, want := range map[string][]string{
		"ls; nodes -d":                     {"ls", " nodes -d"},
		"ls;;\n nodes \n":                  {"ls", " nodes "},
		`set a b "x;y"; get a b`:           {`set a b "x;y"`, " get a b"},
		`set a b 'x;y'; get a b`:           {`set a b 'x;y'`, " get a b"},
		`set a b "q\";"; get a b`:          {`set a b "q\";"`, " get a b"},
		"":                                 nil,
		"  ;  ":                            nil,
		"use t\nset a b c\nget a b":        {"use t", "set a b c", "get a b"},
		`set a b "line1` + "\n" + `line2"`: {`set a b "line1` + "\n" + `line2"`},
	} {
		if got := splitScript(script); !reflect.DeepEqual(got, want) {
			t.Errorf("splitScript(%q) = %q, want %q", script, got, want)
		}
	}
}

// Whatever escape prints reads back as the same bytes.
func TestEscapeRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, b := range [][]byte{all, {}, []byte(`"quoted" \back\`), []byte("héllo")} {
		words, err := tokenize("x " + escape(b))
		if err != nil || len(words) != 2 || words[1] != string(b) {
			t.Errorf("round trip of %q: %q, %v", b, words, err)
		}
	}
	if got := escape([]byte("a\x00\xff\"")); got != `"a\x00\xFF\""` {
		t.Errorf("escape = %s", got)
	}
}

func FuzzTokenizeEscape(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{0, 1, 2, '"', '\\', 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		words, err := tokenize(escape(b))
		if err != nil || len(words) != 1 || words[0] != string(b) {
			t.Fatalf("round trip of %q: %q, %v", b, words, err)
		}
	})
}
