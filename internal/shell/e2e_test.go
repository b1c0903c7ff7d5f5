package shell_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/shell"
)

func TestMain(m *testing.M) { oneboxtest.Main(m) }

// The shell against a real onebox: create a table, write and read a
// record, and read ls -d and nodes -d as JSON, in process and through the
// pegasus binary. It runs once the binary has the meta and replica roles.
func TestEndToEndOnebox(t *testing.T) {
	work := t.TempDir()
	c := testcluster.Start(t, onebox.Options{Dir: filepath.Join(work, "onebox"), Metas: 2, Replicas: 3})
	bin := oneboxtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var out bytes.Buffer
	sh, err := shell.New(shell.Config{MetaServers: c.MetaAddrs(), Out: &out, Credentials: c.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	run := func(script string) string {
		t.Helper()
		out.Reset()
		if err := sh.RunScript(ctx, script); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out.String())
		}
		return out.String()
	}

	if got := run("create e2e -p 4 -r 3"); !strings.Contains(got, "e2e is ready now: (4/4)") {
		t.Fatalf("create printed:\n%s", got)
	}
	if got := run("use e2e; set h s v; get h s"); !strings.HasSuffix(got, "\"v\"\n") {
		t.Fatalf("get printed:\n%s", got)
	}

	var ls struct {
		Tables []struct {
			Name           string `json:"name"`
			PartitionCount int    `json:"partition_count"`
			ReplicaCount   int    `json:"replica_count"`
			FullyHealthy   int    `json:"fully_healthy"`
			Unhealthy      int    `json:"unhealthy"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(run("ls -d --json")), &ls); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tb := range ls.Tables {
		if tb.Name == "e2e" {
			found = true
			if tb.PartitionCount != 4 || tb.ReplicaCount != 3 || tb.FullyHealthy != 4 || tb.Unhealthy != 0 {
				t.Errorf("ls -d: %+v", tb)
			}
		}
	}
	if !found {
		t.Fatalf("ls -d --json lacks e2e: %+v", ls)
	}

	var nodes struct {
		Nodes []struct {
			Address        string `json:"address"`
			Status         string `json:"status"`
			PrimaryCount   int    `json:"primary_count"`
			SecondaryCount int    `json:"secondary_count"`
			ReplicaCount   int    `json:"replica_count"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(run("nodes -d --json")), &nodes); err != nil {
		t.Fatal(err)
	}
	var primaries, replicas int
	for _, n := range nodes.Nodes {
		if n.Status != "ALIVE" {
			t.Errorf("node %s is %s", n.Address, n.Status)
		}
		primaries += n.PrimaryCount
		replicas += n.ReplicaCount
	}
	// Other tables (a collector's) may add to the counts.
	if len(nodes.Nodes) != 3 || primaries < 4 || replicas < 12 {
		t.Errorf("nodes -d: %+v", nodes)
	}

	// The binary, finding the meta servers in ./onebox/meta_servers.
	cmd := exec.CommandContext(ctx, bin, "shell", "--json", "-e", "ls -d")
	cmd.Dir = work
	stdout, err := cmd.Output()
	if err != nil || !json.Valid(stdout) || !strings.Contains(string(stdout), `"e2e"`) {
		t.Fatalf("pegasus shell -e 'ls -d' --json: %v\n%s", err, stdout)
	}
	cmd = exec.CommandContext(ctx, bin, "shell", "-e", "app nosuch -d")
	cmd.Dir = work
	combined, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(combined), "table not found") {
		t.Fatalf("app of a missing table: %v\n%s", err, combined)
	}
}

// The binary's scripted mode exits non-zero with the reason when the meta
// server cannot be reached or the command is unknown. This needs only the
// shell, so it runs now.
func TestBinaryScriptedErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pegasus binary")
	}
	bin := oneboxtest.Binary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"shell", "--meta", "127.0.0.1:1", "-e", "nodes -d"}, "meta server unreachable: 127.0.0.1:1"},
		{[]string{"shell", "--meta", "127.0.0.1:1", "-e", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"shell", "--meta", "127.0.0.1:1", "-e", "help; get a b"}, "no table selected"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Dir = t.TempDir()
		begin := time.Now()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(string(out), c.want) {
			t.Errorf("pegasus %q: %v\n%s", c.args, err, out)
		}
		if elapsed := time.Since(begin); elapsed > 10*time.Second {
			t.Errorf("pegasus %q took %s", c.args, elapsed)
		}
	}
	// Commands read from a pipe run as a script too.
	cmd := exec.Command(bin, "shell", "--meta", "127.0.0.1:1")
	cmd.Stdin = strings.NewReader("help\nexit\nnodes\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "cluster_info") {
		t.Errorf("piped script: %v\n%s", err, out)
	}
}
