package shell

import (
	"fmt"
	"strconv"
	"strings"
)

// splitScript splits a script into command lines at semicolons and
// newlines that are outside quotes.
func splitScript(script string) []string {
	var lines []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(script); i++ {
		ch := script[i]
		switch {
		case quote != 0:
			cur.WriteByte(ch)
			if ch == '\\' && quote == '"' && i+1 < len(script) {
				i++
				cur.WriteByte(script[i])
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
			cur.WriteByte(ch)
		case ch == ';' || ch == '\n':
			lines = append(lines, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	lines = append(lines, cur.String())
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// tokenize splits a command line into words. Words are separated by
// blanks; double quotes group a word and honour the escapes \" \\ \n \r \t
// \0 and \xHH (so keys and values may hold any byte, as in Pegasus'
// shell); single quotes group a word literally.
func tokenize(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated ' in %q", ErrUsage, line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1 // now at the closing quote
			inWord = true
		case ch == '"':
			n, err := unquoteInto(&cur, line[i+1:])
			if err != nil {
				return nil, fmt.Errorf("%w: %v in %q", ErrUsage, err, line)
			}
			i += n // now at the closing quote
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// unquoteInto decodes a double-quoted string whose opening quote is just
// before s, and returns how many bytes of s it consumed (closing quote
// included).
func unquoteInto(b *strings.Builder, s string) (int, error) {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '"' {
			return i + 1, nil
		}
		if ch != '\\' {
			b.WriteByte(ch)
			continue
		}
		if i+1 >= len(s) {
			break
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case 'x':
			if i+2 >= len(s) {
				return 0, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return 0, fmt.Errorf("bad \\x escape %q", s[i-1:i+3])
			}
			b.WriteByte(byte(v))
			i += 2
		default: // \" \\ and any other escaped byte stand for themselves
			b.WriteByte(s[i])
		}
	}
	return 0, fmt.Errorf("unterminated \"")
}

// escape renders bytes the way the data commands print keys and values:
// in double quotes, printable ASCII as is, everything else escaped, so
// that the output can be pasted back as an argument.
func escape(b []byte) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out.WriteByte('\\')
			out.WriteByte(c)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\t':
			out.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			out.WriteByte(c)
		default:
			fmt.Fprintf(&out, `\x%02X`, c)
		}
	}
	out.WriteByte('"')
	return out.String()
}
