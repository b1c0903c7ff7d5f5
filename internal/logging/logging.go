// Package logging sets up a server's own log from its configuration: level,
// text or JSON lines, stderr or a file rotated by size. A server process has
// one log, so the set-up is process-wide: it also becomes slog's default,
// which the packages that log without a logger of their own use.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/pegasus-go/pegasus/internal/config"
)

// ErrInvalid wraps a log configuration that cannot be used.
var ErrInvalid = errors.New("logging: invalid configuration")

var (
	mu   sync.Mutex
	file *lumberjack.Logger // the current log file, nil for stderr
)

// Setup returns the logger cfg describes, with attrs on every line, and
// makes it slog's default. stderr is where the log goes without log_file.
// Rotation of log_file happens in process, by size (lumberjack): external
// rotation tools are not needed and must not move the file (use
// copytruncate if one is used anyway).
func Setup(cfg config.Log, stderr io.Writer, attrs ...any) (*slog.Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	w := stderr
	mu.Lock()
	if file != nil {
		file.Close()
		file = nil
	}
	if cfg.File != "" {
		file = &lumberjack.Logger{Filename: cfg.File, MaxSize: cfg.MaxSizeMB, MaxBackups: cfg.MaxBackups}
		w = file
	}
	mu.Unlock()
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	l := slog.New(h).With(attrs...)
	slog.SetDefault(l)
	return l, nil
}

// Flush makes what was logged so far durable: the log file is synced; a
// log on stderr is unbuffered and has nothing to flush. It is the servers'
// flush-log remote command.
func Flush() error {
	mu.Lock()
	defer mu.Unlock()
	if file == nil {
		return nil
	}
	// lumberjack has no Sync; Rotate would start a new file. Reopening is
	// not needed either: writes go straight to the file descriptor, so
	// syncing the file by name reaches the same inode.
	f, err := os.OpenFile(file.Filename, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("logging: flush: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("logging: flush: %w", err)
	}
	return nil
}
