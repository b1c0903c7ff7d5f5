package collector

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestClusterPageRendersEverySection(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.newCollector(nil)
	ready(t, c)
	round(c, sec(0))
	fc.setPrimary("detect", 3, "")
	round(c, sec(1))
	c.now = func() time.Time { return sec(2) }
	rec := httptest.NewRecorder()
	// Shaped like the orchestrator's progress, fields the page does not
	// show included.
	progress := `{"cluster":"fakebox","status":"running","phase":"replica","node":"` + fc.replicas[1].addr + `","role":"replica",` +
		`"step":"<script>alert(1)</script> downgrade","step_index":4,"step_count":12,"observed":"2 secondaries left",` +
		`"started":"` + sec(-300).Format(time.RFC3339) + `","step_started":"` + sec(-63).Format(time.RFC3339) + `",` +
		`"elapsed_ms":302000,"updated":"` + sec(2).Format(time.RFC3339) + `","holder":{"id":"x"},` +
		`"report":{"status":"running","client_errors":0,"nodes":[` +
		`{"node":"` + fc.replicas[0].addr + `","role":"replica","result":"done","down_ms":4200,"to_healthy_ms":9100,"primaries_moved":3,"secondaries_downgraded":2,"client_errors":0},` +
		`{"node":"` + fc.replicas[1].addr + `","role":"replica","result":"running","down_ms":0,"to_healthy_ms":0,"primaries_moved":2,"secondaries_downgraded":0,"client_errors":0}]}}`
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/rolling", strings.NewReader(progress)))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /api/rolling: %d %s", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	for _, want := range []string{
		`<section id="availability"`, `<svg id="timeline"`, `<section id="rolling"`,
		`<section id="nodes"`, `<section id="tables"`, `<section id="traffic"`,
		`<script src="/static/cluster.js">`,
		"fakebox", "steady", // cluster_info
		fc.replicas[0].addr, fc.replicas[2].addr, "ALIVE", // nodes -d
		"<td>detect</td>", "<td>AVAILABLE</td>", // ls -d, status as the shell names it
		"4/12", "1m5s", "5m2s", // the step in progress, its time and the roll's
		"waiting: 2 secondaries left", "<td>4.2s</td><td>9.1s</td><td>3</td>", // the gate and the finished server
		"&lt;script&gt;alert(1)&lt;/script&gt; downgrade", // escaped, not run
		"87.500%", // the last minute: 14 of 16 probes
		// a knob override, with who set it
		"meta.lb.add_secondary_max_count_for_one_node = 0 overrides the configuration file (set by rolling-update roll-9, lapses unless renewed)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "AS_AVAILABLE") {
		t.Error("page shows the enum name AS_AVAILABLE; the shell says AVAILABLE")
	}
	if !strings.Contains(page, "replica-server") {
		t.Error("page does not name roles as the shell does (replica-server)")
	}
	if strings.Contains(page, "<script>alert(1)") {
		t.Error("page carries the progress report's markup unescaped")
	}
	// Partition 3 failed and shows in the partition table.
	if !regexp.MustCompile(`<tr class="bad"><td>3</td><td>4</td><td>2</td><td>yes \(2\)</td>`).MatchString(page) {
		t.Error("failing partition 3 is not listed as failing")
	}

	// The script draws from the JSON embedded in the page.
	m := regexp.MustCompile(`(?s)<script id="initial" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no initial data block")
	}
	var initial pageInitial
	if err := json.Unmarshal([]byte(m[1]), &initial); err != nil {
		t.Fatalf("initial data is not JSON: %v: %.200s", err, m[1])
	}
	if initial.Availability.WindowSeconds != 300 || initial.Availability.Failures != 2 || len(initial.Partitions.Partitions) != 4 {
		t.Fatalf("initial data %+v", initial)
	}

	for path, ctype := range map[string]string{"/static/cluster.js": "javascript", "/static/cluster.css": "text/css"} {
		rec = httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), ctype) || rec.Body.Len() < 500 {
			t.Errorf("GET %s: %d %q, %d bytes", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
	// The script polls endpoints that exist.
	js, _ := web.ReadFile("web/cluster.js")
	for _, ep := range regexp.MustCompile(`poll\("([^"?]+)`).FindAllStringSubmatch(string(js), -1) {
		rec = httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ep[1], nil))
		if rec.Code != http.StatusOK {
			t.Errorf("the script polls %s, which answers %d", ep[1], rec.Code)
		}
	}
}

func TestClusterPageWithoutAMetaServer(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(func(o *Options) { o.MetaServers = []string{deadAddr(t)} })
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: %d", rec.Code)
	}
	for _, want := range []string{"no replica server known", "no table known", "No rolling update reported", ErrMetaUnavailable.Error()} {
		if !strings.Contains(page, want) {
			t.Errorf("page without a meta server lacks %q", want)
		}
	}
	rec = httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope: %d", rec.Code)
	}
}

// The step counter says where a roll stands, also once it ended: a
// finished roll is N/N, not 0/N.
func TestRollingStepCounter(t *testing.T) {
	for _, c := range []struct {
		status     string
		index, cnt int
		want       string
	}{
		{"running", 4, 43, "4/43"},
		{"succeeded", 0, 43, "43/43"},
		{"pending", 0, 43, "0/43"},
		{"failed", 0, 43, ""},
		{"aborted", 0, 43, ""},
		{"paused", 12, 43, "12/43"},
		{"running", 0, 0, ""},
	} {
		var b rollingBoard
		body := fmt.Sprintf(`{"status":%q,"step_index":%d,"step_count":%d,"role":"replica"}`, c.status, c.index, c.cnt)
		if err := b.post([]byte(body), sec(0)); err != nil {
			t.Fatal(err)
		}
		v := b.view(sec(1))
		if v.StepCounter != c.want || v.Progress.Role != "replica-server" {
			t.Errorf("%s %d/%d: counter %q role %q, want %q replica-server", c.status, c.index, c.cnt, v.StepCounter, v.Progress.Role, c.want)
		}
	}
}
