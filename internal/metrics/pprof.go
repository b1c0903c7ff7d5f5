package metrics

import (
	"net/http"
	"net/http/pprof"
)

// HandleProfiles serves the Go runtime's profiles under /debug/pprof/ on
// mux, beside /metrics: the first thing to take when a server burns CPU
// or memory, e.g.
//
//	go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=10
func HandleProfiles(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
