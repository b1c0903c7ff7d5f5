package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pegasus-go/pegasus/internal/security"
)

// serveOn runs c on its own real listener (sec's, as in production) and
// returns its base URL.
func serveOn(t *testing.T, c *Collector, sec *security.Server) string {
	t.Helper()
	lis, err := sec.ListenHTTP("http", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + lis.Addr().String()
}

// rollingPost posts a progress to base with the given headers and returns
// the status.
func rollingPost(t *testing.T, base string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/rolling", strings.NewReader(`{"status":"running","node":"forged:1"}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rollingNode returns the node of the progress the collector shows.
func rollingNode(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/rolling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v RollingView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Progress == nil {
		return ""
	}
	return v.Progress.Node
}

// A browser on a page elsewhere posting to the collector: what
// Sec-Fetch-Site and Origin say about such a request.
var crossSite = map[string]string{
	"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example",
}

// Issue 16, finding 5: anyone could POST /api/rolling and show operators
// a forged roll, also from a page elsewhere through their browser
// (text/plain needs no preflight). On the collector's real listener with
// an admin token configured: refused without the token, refused
// cross-site even with it, taken with it; audited. Profiles are not on
// this listener.
func TestRollingPostNeedsAdminOnTheListener(t *testing.T) {
	const token = "d1e2a3d4b5e6e7f8a9b0c1d2"
	path := filepath.Join(t.TempDir(), "admin_tokens")
	if err := os.WriteFile(path, []byte("orchestrator "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := security.LoadTokens(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	sec := &security.Server{Tokens: tok, Audit: security.NewAudit(&audit)}
	fc := newFakeCluster(t, 1)
	base := serveOn(t, fc.newCollector(func(o *Options) { o.Security = sec }), sec)

	if code := rollingPost(t, base, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous POST: %d", code)
	}
	withToken := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range crossSite {
		withToken[k] = v
	}
	if code := rollingPost(t, base, withToken); code != http.StatusForbidden {
		t.Fatalf("cross-site POST with the token: %d", code)
	}
	if node := rollingNode(t, base); node != "" {
		t.Fatalf("a refused POST was shown: %q", node)
	}
	if code := rollingPost(t, base, map[string]string{"Authorization": "Bearer " + token}); code != http.StatusOK {
		t.Fatalf("POST with the token: %d", code)
	}
	if node := rollingNode(t, base); node != "forged:1" {
		t.Fatalf("progress after the admin's POST: %q", node)
	}
	log := audit.String()
	for _, want := range []string{`"who":"anonymous"`, `"result":"denied: cross-origin request"`, `"who":"orchestrator"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	resp, err := http.Get(base + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("pprof on the collector's listener: %d", resp.StatusCode)
	}
}

// Without any credential configured (a collector that checks none), a
// cross-site POST is still refused: the operator's browser cannot be
// made to post a roll.
func TestRollingPostRefusedCrossSiteWithoutCredentials(t *testing.T) {
	fc := newFakeCluster(t, 1)
	base := serveOn(t, fc.newCollector(nil), nil)
	if code := rollingPost(t, base, crossSite); code != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", code)
	}
	if node := rollingNode(t, base); node != "" {
		t.Fatalf("a cross-site POST was shown: %q", node)
	}
	if code := rollingPost(t, base, map[string]string{"Content-Type": "application/json"}); code != http.StatusOK {
		t.Fatalf("same-origin POST without credentials configured: %d", code)
	}
}
