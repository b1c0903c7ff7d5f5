package collector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// t0 is a fixed issue time for round-driven tests.
var t0 = time.Unix(1_767_225_600, 0)

// ready prepares the detector against the fake cluster.
func ready(t *testing.T, c *Collector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !c.detector.prepareUntilReady(ctx) {
		t.Fatal("detector never became ready")
	}
}

// round runs one probe round issued at at and waits for it to end.
func round(c *Collector, at time.Time) {
	c.detector.startRound(context.Background(), at)
	c.detector.Wait()
}

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func wantAvailability(t *testing.T, r AvailabilityReport, probes, failures uint64) {
	t.Helper()
	if r.Probes != probes || r.Failures != failures {
		t.Fatalf("window ending %d (%ds): %d probes, %d failures; want %d, %d", r.Now, r.WindowSeconds, r.Probes, r.Failures, probes, failures)
	}
	want := float64(probes-failures) / float64(probes)
	if r.Availability == nil || *r.Availability != want {
		t.Fatalf("availability %v, want %v", r.Availability, want)
	}
}

func TestDetectorCreatesTheDetectionTableOnce(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.newCollector(nil)
	ready(t, c)
	if n := fc.partitionCount("detect"); n != 4 {
		t.Fatalf("detection table has %d partitions, want 4", n)
	}
	if ft := fc.tables["detect"]; ft.replicas != 3 {
		t.Fatalf("detection table has replica count %d, want 3", ft.replicas)
	}
	// A second collector finds the table and does not create it again.
	c2 := fc.newCollector(nil)
	ready(t, c2)
	if fc.creates != 1 {
		t.Fatalf("CreateTable called %d times, want 1", fc.creates)
	}
}

func TestDetectorProbesEveryPartitionOfAnExistingTable(t *testing.T) {
	fc := newFakeCluster(t, 3)
	fc.mu.Lock()
	fc.createTable("detect", 16, 3) // not the configured 4
	fc.mu.Unlock()
	c := fc.newCollector(nil)
	ready(t, c)
	round(c, sec(0))
	// The fake replicas refuse a key that does not route to the partition
	// asked, so 32 successes mean every partition got its own key.
	wantAvailability(t, c.detector.log.report(sec(0), time.Second), 32, 0)
	parts := c.detector.board.report()
	if parts.PartitionCount != 16 || fc.creates != 0 {
		t.Fatalf("probed %d partitions after %d creates; want 16 and 0", parts.PartitionCount, fc.creates)
	}
	for _, p := range parts.Partitions {
		if p.Probes != 2 || p.Failures != 0 {
			t.Errorf("partition %d: %d probes, %d failures", p.Index, p.Probes, p.Failures)
		}
	}
}

// The headline property: availability drops below 100% while a partition
// has no primary and comes back to 100% once it has one again.
func TestAvailabilityDropsWhileAPartitionHasNoPrimary(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.newCollector(nil)
	ready(t, c)
	log := c.detector.log

	round(c, sec(0))
	wantAvailability(t, log.report(sec(0), time.Second), 8, 0)

	fc.setPrimary("detect", 2, "")
	round(c, sec(1))
	// Partition 2's write and read both time out; the other three answer.
	wantAvailability(t, log.report(sec(1), time.Second), 8, 2)
	p2 := c.detector.board.report().Partitions[2]
	if p2.ConsecutiveFailures != 2 || p2.LastFailure == nil || p2.LastFailure.TS != sec(1).Unix() {
		t.Fatalf("partition 2 view %+v, want 2 consecutive failures issued at %d", p2, sec(1).Unix())
	}
	if p2.LastFailure.Error == "" || p2.LastFailure.LatencyUS == 0 {
		t.Errorf("partition 2 last failure %+v lacks its error or latency", p2.LastFailure)
	}

	fc.setPrimary("detect", 2, fc.replicas[1].addr)
	round(c, sec(2))
	wantAvailability(t, log.report(sec(2), time.Second), 8, 0)
	wantAvailability(t, log.report(sec(2), 3*time.Second), 24, 2)
	p2 = c.detector.board.report().Partitions[2]
	if p2.ConsecutiveFailures != 0 || p2.Failures != 2 || p2.LastOK != sec(2).Unix() {
		t.Fatalf("partition 2 view after recovery %+v", p2)
	}

	// The same through HTTP, as the rolling-update gate reads it.
	c.now = func() time.Time { return sec(2).Add(500 * time.Millisecond) }
	var got AvailabilityReport
	getJSON(t, c.Handler(), "/api/availability?window=3s", http.StatusOK, &got)
	wantAvailability(t, got, 24, 2)
	if len(got.PerSecond) != 3 || got.PerSecond[1].Failures != 2 || got.PerSecond[1].TS != sec(1).Unix() {
		t.Fatalf("per_second %+v, want the failures in the middle second", got.PerSecond)
	}
	if len(got.PerMinute) != 1 || got.PerMinute[0].Probes != 24 || got.ClientErrors != 2 {
		t.Fatalf("per_minute %+v, client_errors %d", got.PerMinute, got.ClientErrors)
	}
	getJSON(t, c.Handler(), "/api/availability?window=1s", http.StatusOK, &got)
	wantAvailability(t, got, 8, 0)
}

func TestStaleReadIsAFailedProbe(t *testing.T) {
	fc := newFakeCluster(t, 2)
	c := fc.newCollector(nil)
	ready(t, c)
	fc.setForgetful("detect", 3, true)
	round(c, sec(0))
	wantAvailability(t, c.detector.log.report(sec(0), time.Second), 8, 1)
	f := c.detector.board.report().Partitions[3].LastFailure
	if f == nil || f.Kind != ProbeRead || !strings.Contains(f.Error, ErrStaleRead.Error()) {
		t.Fatalf("partition 3 last failure %+v, want a stale read", f)
	}
}

func TestDetectorWaitsForPrimariesOfATableItCreated(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(nil)
	created, err := c.detector.prepare(context.Background(), false)
	if !created || err != nil {
		t.Fatalf("prepare: created %v, err %v", created, err)
	}
	fc.setPrimary("detect", 0, "")
	_, err = c.detector.prepare(context.Background(), true)
	if !errors.Is(err, ErrTableNotReady) {
		t.Fatalf("prepare with a primary missing: %v, want ErrTableNotReady", err)
	}
	fc.setPrimary("detect", 0, fc.replicas[0].addr)
	if _, err := c.detector.prepare(context.Background(), true); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, h http.Handler, path string, wantStatus int, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", path, rec.Code, wantStatus, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
	}
}
