package security

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Audit records every admin action: who (the certificate's role and name,
// or the admin token's name), what (the call and its arguments), when, from
// where, and the result. Entries are JSON lines, one per action, appended
// to a file only the server's user can read.
type Audit struct {
	log    *slog.Logger
	closer io.Closer
}

// OpenAudit appends to the file at path (created with mode 0600, its
// directory with 0700).
func OpenAudit(path string) (*Audit, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: audit log: %v", ErrAudit, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: audit log: %v", ErrAudit, err)
	}
	return &Audit{log: slog.New(slog.NewJSONHandler(&lockedWriter{w: f}, nil)), closer: f}, nil
}

// NewAudit writes entries to w (tests, or a server without a file).
func NewAudit(w io.Writer) *Audit {
	return &Audit{log: slog.New(slog.NewJSONHandler(&lockedWriter{w: w}, nil))}
}

// Close closes the file.
func (a *Audit) Close() error {
	if a == nil || a.closer == nil {
		return nil
	}
	return a.closer.Close()
}

// Entry is one admin action.
type Entry struct {
	Who    string
	Peer   string
	Action string
	Args   string
	Result string
	Took   time.Duration
}

// Record appends an entry.
func (a *Audit) Record(e Entry) {
	if a == nil {
		return
	}
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "admin action",
		slog.String("who", e.Who), slog.String("peer", e.Peer), slog.String("action", e.Action),
		slog.String("args", e.Args), slog.String("result", e.Result), slog.Duration("took", e.Took))
}

// lockedWriter serializes writes, so that concurrent entries never
// interleave in the file.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
