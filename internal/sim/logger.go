package sim

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// logger returns the slog logger handed to the code under test: its lines
// go to the trace with -v, nowhere otherwise.
func (w *World) logger() *slog.Logger {
	if !w.opts.Verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(traceHandler{w: w})
}

type traceHandler struct {
	w     *World
	attrs []slog.Attr
}

func (h traceHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h traceHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.w.trace.note("log: %s", b.String())
	return nil
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h traceHandler) WithGroup(string) slog.Handler { return h }
