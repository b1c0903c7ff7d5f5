package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pegasus-go/pegasus/internal/config"
)

func TestLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	cfg := config.DefaultLog()
	cfg.Level, cfg.Format = "warn", "json"
	l, err := Setup(cfg, &buf, "role", "meta")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (warn and above), got %q", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["msg"] != "shown" || rec["role"] != "meta" || rec["level"] != "WARN" {
		t.Fatalf("json line %q: %v", lines[0], err)
	}
	buf.Reset()
	cfg.Level, cfg.Format = "debug", "text"
	if _, err := Setup(cfg, &buf); err != nil {
		t.Fatal(err)
	}
	// Setup made it slog's default.
	slogDebug("dbg")
	if !strings.Contains(buf.String(), "level=DEBUG msg=dbg") {
		t.Fatalf("text line %q", buf.String())
	}
	cfg.Format = "xml"
	if _, err := Setup(cfg, &buf); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad format: %v", err)
	}
}

// A log file rotates by size, keeps log_max_backups old files, and Flush
// syncs it.
func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	cfg := config.DefaultLog()
	cfg.File, cfg.MaxSizeMB, cfg.MaxBackups = filepath.Join(dir, "replica.log"), 1, 2
	l, err := Setup(cfg, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer Setup(config.DefaultLog(), os.Stderr)
	line := strings.Repeat("x", 1000)
	for range 5000 { // about 5 MB: several rotations
		l.Info(line)
	}
	if err := Flush(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The live file and at most two rotated ones; lumberjack deletes the
	// surplus in the background, so allow for it to lag by one.
	if len(entries) < 2 || len(entries) > 4 {
		t.Fatalf("log directory holds %d files, want the log and its 2 backups", len(entries))
	}
	st, err := os.Stat(cfg.File)
	if err != nil || st.Size() > 1<<20 {
		t.Fatalf("live log file %v, size over 1 MiB: %v", st, err)
	}
}

func slogDebug(msg string) { slog.Debug(msg) }
