package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

const docPath = "../../docs/configuration.md"

func TestDocsUpToDate(t *testing.T) {
	want := Markdown()
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/configuration.md is stale; run go test ./internal/config -update")
	}
}

func TestEveryKeyDocumented(t *testing.T) {
	for _, cfg := range []any{DefaultMeta(), DefaultReplica(), DefaultCollector()} {
		walk(reflect.ValueOf(cfg), func(key, doc string, _ reflect.Value) {
			if doc == "" {
				t.Errorf("%T: key %s has no doc tag", cfg, key)
			}
		})
	}
}

func TestDefaultsValid(t *testing.T) {
	if err := DefaultMeta().Validate(); err != nil {
		t.Error(err)
	}
	if err := DefaultReplica().Validate(); err != nil {
		t.Error(err)
	}
	if err := DefaultCollector().Validate(); err != nil {
		t.Error(err)
	}
}

func TestLeaseMustBeBelowGrace(t *testing.T) {
	fd := DefaultFailureDetector()
	fd.LeaseSeconds, fd.GraceSeconds = 10, 10
	err := fd.Validate()
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "fd_lease_seconds (10) must be below fd_grace_seconds (10)") {
		t.Fatalf("got %v", err)
	}
}

func TestGroupCheckRenewsTheLease(t *testing.T) {
	r := DefaultReplica()
	r.Listen, r.DataDir, r.MetaServers = "127.0.0.1:1", "/tmp/x", []string{"127.0.0.1:2"}
	r.GroupCheckIntervalMs = 4501 // more than half of the 9 s lease
	if err := r.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "group_check_interval_ms (4501)") {
		t.Fatalf("got %v", err)
	}
	r.GroupCheckIntervalMs = 4500
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseMustOutlastMetaFailover(t *testing.T) {
	for _, tc := range []struct {
		ttl, beacon, lease int
		ok                 bool
	}{
		{3, 3, 9, true},
		{3, 3, 6, false},
		{2, 1, 4, true},
		{3, 1, 3, false},
	} {
		cfg := DefaultMeta()
		cfg.ElectionTTLSeconds, cfg.BeaconIntervalSeconds, cfg.LeaseSeconds, cfg.GraceSeconds = tc.ttl, tc.beacon, tc.lease, tc.lease+1
		err := cfg.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("ttl %d beacon %d lease %d: got %v, want ok=%v", tc.ttl, tc.beacon, tc.lease, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "meta leader failover") {
			t.Errorf("error does not say why: %v", err)
		}
	}
}

// TestDedupRetentionCoversTheClientRetryWindow: a replica server that forgot
// a write before its client stopped retrying it would run the retry again,
// so a retention shorter than the retry window plus the clock allowance is
// refused, with the reason; so is one past an hour, which only slows the
// lookups of retried writes.
func TestDedupRetentionCoversTheClientRetryWindow(t *testing.T) {
	floor := int(rpc.MinWriteDedupRetention / time.Second)
	if def := DefaultReplica().WriteDedupRetentionSeconds; def < floor {
		t.Fatalf("default retention %d s is below the floor %d s", def, floor)
	}
	for _, tc := range []struct {
		seconds int
		ok      bool
	}{{floor, true}, {floor - 1, false}, {int(rpc.MaxWriteRetryWindow / time.Second), false}, {0, false}, {3600, true}, {3601, false}} {
		cfg := DefaultReplica()
		cfg.WriteDedupRetentionSeconds = tc.seconds
		err := cfg.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("retention %d s: got %v, want ok=%v", tc.seconds, err, tc.ok)
		}
		if err != nil && tc.seconds < floor && !strings.Contains(err.Error(), "clients retry a write for up to 2m0s") {
			t.Errorf("error does not say why: %v", err)
		}
		if err != nil && tc.seconds > floor && !strings.Contains(err.Error(), "at most 3600") {
			t.Errorf("error does not say why: %v", err)
		}
	}
}

// TestMaxInflightMutationsHasNoHiddenCeiling: every positive
// max_inflight_mutations is valid (8193 once made every replica fail to
// open; internal/replica's TestLargeMaxInflightMutations opens one).
func TestMaxInflightMutationsHasNoHiddenCeiling(t *testing.T) {
	for _, n := range []int{1, 8192, 8193, 1 << 20} {
		cfg := DefaultReplica()
		cfg.MaxInflightMutations = n
		if err := cfg.Validate(); err != nil {
			t.Errorf("max_inflight_mutations %d: %v", n, err)
		}
	}
	cfg := DefaultReplica()
	cfg.MaxInflightMutations = 0
	if err := cfg.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("max_inflight_mutations 0: %v", err)
	}
}

func TestLoadOverridesDefaultsAndRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "meta.toml")
	if err := os.WriteFile(good, []byte("fd_grace_seconds = 12\ncluster_name = \"prod\"\netcd_endpoints = [\"127.0.0.1:2379\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultMeta()
	if err := Load(good, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.GraceSeconds != 12 || cfg.ClusterName != "prod" || len(cfg.EtcdEndpoints) != 1 || cfg.LeaseSeconds != 9 {
		t.Fatalf("unexpected config %+v", cfg)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("fd_grace_secs = 12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = DefaultMeta()
	if err := Load(bad, &cfg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "fd_grace_secs") {
		t.Fatalf("unknown key not rejected: %v", err)
	}
}
