package oneboxcluster

import (
	"bytes"
	"io"
	"sync"
)

// prefixWriter writes whole lines to w, each after prefix, so that a
// subprocess's output interleaves legibly with the scenario's own.
type prefixWriter struct {
	w      io.Writer
	prefix string

	mu  sync.Mutex
	buf []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		// The live status line rewrites itself with carriage returns;
		// keep only its last state.
		line := p.buf[:i]
		if j := bytes.LastIndexByte(line, '\r'); j >= 0 {
			line = line[j+1:]
		}
		if _, err := io.WriteString(p.w, p.prefix+string(line)+"\n"); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}

// flush writes a final unterminated line.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = nil
	}
}
