package collector

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/pegasus-go/pegasus/internal/version"
)

// routes builds the collector's HTTP API. Every JSON endpoint is
// documented in doc.go.
func (c *Collector) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.servePage)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFiles)))
	mux.HandleFunc("GET /api/availability", c.serveAvailability)
	mux.HandleFunc("GET /api/availability/partitions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.detector.board.report())
	})
	mux.HandleFunc("GET /api/tables/qps", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.aggregator.Report())
	})
	mux.HandleFunc("GET /api/cluster", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.cluster.read(r.Context()))
	})
	mux.HandleFunc("GET /api/rolling", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.rolling.view(c.now()))
	})
	// The roll's progress is posted by the orchestrator only: an admin
	// call, refused cross-site (a page elsewhere cannot make an operator's
	// browser post it).
	mux.Handle("POST /api/rolling", c.auth.HTTPAdmin("POST /api/rolling", http.HandlerFunc(c.postRolling)))
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, versionReport{
			Protocol: version.Current().String(), Release: version.Release(), Commit: version.Commit(),
		})
	})
	mux.Handle("GET /metrics", c.metrics.Handler())
	mux.HandleFunc("GET /healthz", c.serveHealth)
	return mux
}

func (c *Collector) serveAvailability(w http.ResponseWriter, r *http.Request) {
	window, err := ParseWindow(r.URL.Query().Get("window"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, c.detector.log.report(c.now(), window))
}

func (c *Collector) postRolling(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxProgressBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, ErrBadProgress)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := c.rolling.post(body, c.now()); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, c.rolling.view(c.now()))
}

// versionReport answers /api/version: the rolling-update orchestrator
// checks the protocol a restarted collector speaks.
type versionReport struct {
	Protocol string `json:"protocol"`
	Release  string `json:"release"`
	Commit   string `json:"commit"`
}

// healthReport answers /healthz.
type healthReport struct {
	Status    string    `json:"status"`
	LastProbe time.Time `json:"last_probe,omitzero"`
	Problem   string    `json:"problem,omitempty"`
}

// serveHealth answers 200 while the detector is reporting (a probe
// completed recently, whatever its outcome) and 503 otherwise: a collector
// that cannot probe has no availability to offer a gate.
func (c *Collector) serveHealth(w http.ResponseWriter, r *http.Request) {
	ok, last, problem := c.detector.health()
	if ok {
		writeJSON(w, http.StatusOK, healthReport{Status: "ok", LastProbe: last})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, healthReport{Status: "not_reporting", LastProbe: last, Problem: problem})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
