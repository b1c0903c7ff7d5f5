package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
)

// The Kubernetes drain and readiness scripts against a real onebox: ready
// on a healthy cluster; drain empties the node (no primary, no secondary,
// replicas closed) and pauses re-replication; not ready while its
// partitions are short of a replica; after a restart, ready again with the
// knob restored, as the StatefulSet controller needs before the next pod.
func TestDrainAndReadyScripts(t *testing.T) {
	work := t.TempDir()
	c := testcluster.Start(t, onebox.Options{Dir: filepath.Join(work, "onebox"), Metas: 2, Replicas: 3})
	bin := oneboxtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	metas := strings.Join(c.MetaAddrs(), ",")
	procs, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	var node, nodeName string
	for _, p := range procs {
		if p.Role == "replica" {
			node, nodeName = p.Address, p.Name
			break
		}
	}
	// The onebox requires an admin credential for the scripts' admin
	// commands: its token, as a pod would get it from a secret.
	token := filepath.Join(work, "onebox", "admin_token")
	env := append(os.Environ(), "PEGASUS="+bin, "PEGASUS_META_SERVERS="+metas, "PEGASUS_NODE="+node,
		"PEGASUS_DATA_DIR="+work, "DRAIN_TIMEOUT=90", "PEGASUS_TOKEN_FILE="+token)
	script := func(name string) (string, error) {
		cmd := exec.CommandContext(ctx, "sh", filepath.Join("kubernetes", "scripts", name))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	shell := func(line string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, "shell", "--meta", metas, "--token-file", token, "-e", line).CombinedOutput()
		if err != nil {
			t.Fatalf("shell %q: %v\n%s", line, err, out)
		}
		return string(out)
	}
	// waitReady polls ready.sh until it passes.
	waitReady := func(what string) {
		t.Helper()
		for {
			out, err := script("ready.sh")
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: ready.sh never passed: %v\n%s", what, err, out)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	shell("create t -p 8 -r 3")
	waitReady("healthy cluster")

	if out, err := script("drain.sh"); err != nil {
		t.Fatalf("drain.sh: %v\n%s", err, out)
	}
	row := strings.Fields(grepLine(shell("nodes -d"), node))
	if len(row) < 5 || row[3] != "0" || row[4] != "0" {
		t.Fatalf("after drain.sh: %q, want 0 primaries and 0 secondaries", row)
	}
	if !strings.Contains(shell("remote_command -t meta-server meta.lb.add_secondary_max_count_for_one_node"), `"meta.lb.add_secondary_max_count_for_one_node": "0"`) {
		t.Fatalf("drain.sh did not pause re-replication")
	}
	if _, err := os.Stat(filepath.Join(work, ".drained")); err != nil {
		t.Fatalf("no drain marker: %v", err)
	}
	// Partitions miss this node's replicas: not ready.
	if out, err := script("ready.sh"); err == nil {
		t.Fatalf("ready.sh passed on a drained node:\n%s", out)
	}

	// What Kubernetes does next: stop and start the pod.
	if err := c.Restart(ctx, nodeName); err != nil {
		t.Fatal(err)
	}
	waitReady("restarted node")
	if !strings.Contains(shell("remote_command -t meta-server meta.lb.add_secondary_max_count_for_one_node"), `"meta.lb.add_secondary_max_count_for_one_node": "10"`) {
		t.Fatalf("ready.sh did not restore the re-replication knob")
	}
	if _, err := os.Stat(filepath.Join(work, ".drained")); !os.IsNotExist(err) {
		t.Fatalf("drain marker left behind: %v", err)
	}
}

func grepLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	return ""
}
