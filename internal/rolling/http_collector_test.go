package rolling

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

func TestHTTPCollector(t *testing.T) {
	var mu sync.Mutex
	availability := "null"
	var posted map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/availability":
			if r.URL.Query().Get("window") != "10s" {
				http.Error(w, "window", http.StatusBadRequest)
				return
			}
			io.WriteString(w, `{"availability":`+availability+`,"client_errors":12,"probes":100,"p99_us":1500}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/tables/qps":
			io.WriteString(w, `{"ts":1767225600,"tables":[{"table":"t","read_qps":30,"write_qps":70,"error_qps":2,"read_p99_us":800,"write_p99_us":4000}]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/api/rolling":
			if err := json.NewDecoder(r.Body).Decode(&posted); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := NewHTTPCollector(srv.URL+"/", dial.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// No probe in the window yet: not reporting, whatever the counter says.
	if st, err := c.Status(ctx); err != nil || st.Alive || st.ClientErrors != 12 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	mu.Lock()
	availability = "0.995"
	mu.Unlock()
	st, err := c.Status(ctx)
	want := plan.CollectorStatus{Alive: true, Availability: 0.995, ClientErrors: 12, ProbeP99: 1500 * time.Microsecond,
		TrafficAt: time.Unix(1767225600, 0),
		Tables:    []plan.TableSLO{{Table: "t", QPS: 100, ErrorRate: 0.02, P99: 4 * time.Millisecond}}}
	if err != nil || fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("Status = %+v, %v; want %+v", st, err, want)
	}
	if _, err := c.Version(ctx); err == nil {
		t.Fatal("Version of a collector without /api/version succeeded")
	}

	// The posted progress uses the collector's field names.
	e := newRollEnv(t, 2, 3)
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	m.Next(time.Unix(100, 0), plan.Observation{})
	if err := c.PostProgress(ctx, ProgressOf("c1", m, time.Unix(101, 0))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if posted["status"] != "running" || posted["step_index"] != 1.0 || posted["step"] == "" || posted["step_count"] == 0.0 {
		t.Fatalf("posted %v", posted)
	}

	if _, err := NewHTTPCollector("http://", dial.Credentials{}); err == nil {
		t.Fatal("empty host accepted")
	}
	if c, _ := NewHTTPCollector("127.0.0.1:34101", dial.Credentials{}); c.Node() != "127.0.0.1:34101" {
		t.Fatalf("Node = %s", c.Node())
	}
}
