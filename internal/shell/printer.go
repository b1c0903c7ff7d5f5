package shell

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// printer writes Pegasus' table format: a `[section]` line, then either
// whitespace-aligned columns under a header, or `key : value` rows with
// the colons aligned. Sections are separated by a blank line.
type printer struct {
	w        io.Writer
	sections int
}

type pair struct{ key, value string }

// table writes a section of columns.
func (p *printer) table(name string, header []string, rows [][]string) {
	p.begin(name)
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for _, r := range append([][]string{header}, rows...) {
		var line strings.Builder
		for i, cell := range r {
			if i < len(r)-1 {
				fmt.Fprintf(&line, "%-*s  ", widths[i], cell)
			} else {
				line.WriteString(cell)
			}
		}
		fmt.Fprintln(p.w, strings.TrimRight(line.String(), " "))
	}
}

// pairs writes a section of key : value rows.
func (p *printer) pairs(name string, kvs []pair) {
	p.begin(name)
	width := 0
	for _, kv := range kvs {
		width = max(width, len(kv.key))
	}
	for _, kv := range kvs {
		fmt.Fprintf(p.w, "%-*s : %s\n", width, kv.key, kv.value)
	}
}

func (p *printer) begin(name string) {
	if p.sections > 0 {
		fmt.Fprintln(p.w)
	}
	p.sections++
	fmt.Fprintf(p.w, "[%s]\n", name)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
