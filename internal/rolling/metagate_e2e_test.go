package rolling

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// TestE2EMetaThatCannotTakeOverHoldsTheRoll: the follower meta server's
// configuration is edited (as a --config-dir upgrade would) so that after
// its restart it answers RPCs but cannot take over: first it names another
// cluster (and leads that empty namespace), then it points at an etcd that
// does not answer. Each time the roll stops at that meta server's gate,
// with the reason, and never restarts the leader, which would leave the
// cluster without a meta server able to lead.
func TestE2EMetaThatCannotTakeOverHoldsTheRoll(t *testing.T) {
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	info, err := func() (ClusterInfo, error) {
		c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
		defer c.Close()
		return c.Info(ctx)
	}()
	if err != nil {
		t.Fatal(err)
	}
	procs, err := e.ob.Status()
	if err != nil {
		t.Fatal(err)
	}
	var follower, leader onebox.ProcessStatus
	for _, p := range procs {
		if p.Role != onebox.RoleMeta {
			continue
		}
		if p.Address == info.Leader {
			leader = p
		} else {
			follower = p
		}
	}
	if leader.Name == "" || follower.Name == "" {
		t.Fatalf("leader %q, follower %q", leader.Name, follower.Name)
	}
	cfgFile := filepath.Join(e.dir, follower.Name, "config.toml")
	good, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(key, value string) {
		t.Helper()
		re := regexp.MustCompile(`(?m)^` + key + ` = .*$`)
		if !re.Match(good) {
			t.Fatalf("%s has no %s line", cfgFile, key)
		}
		if err := os.WriteFile(cfgFile, re.ReplaceAll(good, []byte(key+" = "+value)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		key, value, reason string
	}{
		{"cluster_name", `"elsewhere"`, "serves cluster elsewhere, not " + info.Name},
		{"etcd_endpoints", `["127.0.0.1:1"]`, "is not registered with the leader " + leader.Address},
	} {
		edit(tc.key, tc.value)
		before := e.pids()
		out, report, err := e.roll(ctx, "--mode", "ha", "--nodes", follower.Address+","+leader.Address,
			"--timeout", "wait-meta-ready=15s")
		if err == nil || report.Status != plan.StatusFailed || !strings.Contains(report.Reason, tc.reason) {
			t.Fatalf("%s: roll %v, status %s, reason %q; want it failed with %q\n%s", tc.key, err, report.Status, report.Reason, tc.reason, out)
		}
		after := e.pids()
		if after[leader.Name] != before[leader.Name] {
			t.Fatalf("%s: the leader was restarted with no standby able to take over", tc.key)
		}
		if after[follower.Name] == before[follower.Name] {
			t.Fatalf("%s: the follower was not restarted", tc.key)
		}
		// The leader still leads this cluster.
		c := DialCluster([]string{leader.Address}, e.ob.Credentials())
		got, err := c.Info(ctx)
		c.Close()
		if err != nil || got.Leader != leader.Address || got.Name != info.Name {
			t.Fatalf("%s: after the roll: leader %q of %q, %v", tc.key, got.Leader, got.Name, err)
		}
		// The operator fixes the configuration and restarts the follower.
		if err := os.WriteFile(cfgFile, good, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := e.ob.Restart(ctx, follower.Name); err != nil {
			t.Fatal(err)
		}
	}
	// Whole again, a roll of both goes through.
	_, report, err := e.roll(ctx, "--mode", "ha", "--nodes", follower.Address+","+leader.Address)
	if err != nil || report.Status != plan.StatusSucceeded {
		t.Fatalf("roll after the fix: %v, %s: %s", err, report.Status, report.Reason)
	}
}
