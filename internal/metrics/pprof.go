package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/pegasus-go/pegasus/internal/security"
)

// HandleProfiles serves the Go runtime's profiles under /debug/pprof/ on
// mux, e.g.
//
//	go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=10
func HandleProfiles(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// ServeProfiles serves the profiles on a listener of their own at addr
// (the roles' pprof_listen, off by default): profiles reveal a server's
// internals (its command line, its memory), so they stay off the API's
// listener and are turned on where needed, on loopback. The listener has
// the server's TLS and connection cap; writes may take as long as the
// profile asked for. Close the returned server to stop.
func ServeProfiles(sec *security.Server, addr string, log *slog.Logger) (*http.Server, error) {
	ln, err := sec.ListenHTTP("pprof", addr)
	if err != nil {
		return nil, fmt.Errorf("profiles listener %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	HandleProfiles(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: security.HTTPReadHeaderTimeout, IdleTimeout: security.HTTPIdleTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiles listener stopped", "err", err)
		}
	}()
	log.Info("serving profiles", "pprof", ln.Addr().String())
	return srv, nil
}
