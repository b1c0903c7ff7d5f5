package pegasusrpc

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex turns a hand-written golden into bytes. The notation is hex digits
// (any spacing), double-quoted ASCII for readable strings, '|' as a visual
// field separator, and // comments to the end of the line, so that each
// golden can spell out the wire layout field by field.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	var digits strings.Builder
	flush := func() {
		b, err := hex.DecodeString(digits.String())
		if err != nil {
			t.Fatalf("bad golden hex %q: %v", digits.String(), err)
		}
		out = append(out, b...)
		digits.Reset()
	}
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == '"':
				j := strings.IndexByte(line[i+1:], '"')
				if j < 0 {
					t.Fatalf("unterminated string in golden line %q", line)
				}
				flush()
				out = append(out, line[i+1:i+1+j]...)
				i += j + 1
			case c == ' ' || c == '\t' || c == '|':
			default:
				digits.WriteByte(c)
			}
		}
	}
	flush()
	return out
}

func TestUnhex(t *testing.T) {
	got := unhex(t, `
		0c 0001 | 0000 0004 "temp" // comment "ignored"
		ff`)
	want := []byte{0x0c, 0x00, 0x01, 0, 0, 0, 4, 't', 'e', 'm', 'p', 0xff}
	if !bytes.Equal(got, want) {
		t.Fatalf("unhex = % x, want % x", got, want)
	}
}

func readerOf(b []byte) *bytes.Reader { return bytes.NewReader(b) }
