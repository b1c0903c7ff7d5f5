package shell_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

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

	// The rolling-restart guide's command lines paste unchanged: -t test
	// lists the handovers and moves nothing, -t run moves them.
	var busy string
	for _, n := range nodes.Nodes {
		if n.PrimaryCount > 0 {
			busy = n.Address
		}
	}
	guide := fmt.Sprintf("migrate_node -c %s -n %s -t ", strings.Join(c.MetaAddrs(), ","), busy)
	if got := run(guide + "test"); !strings.Contains(got, "propose --gpid") || !strings.Contains(got, "nothing changed") {
		t.Fatalf("%stest printed:\n%s", guide, got)
	}
	primaryCount := func() int {
		if err := json.Unmarshal([]byte(run("nodes -d --json")), &nodes); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Nodes {
			if n.Address == busy {
				return n.PrimaryCount
			}
		}
		return -1
	}
	if n := primaryCount(); n == 0 {
		t.Fatalf("migrate_node -t test moved the primaries of %s", busy)
	}
	// Right after a leader change the meta server refuses drains until
	// its failure detector settles; the guide re-runs the command too.
	for {
		out.Reset()
		err := sh.RunScript(ctx, guide+"run")
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "ERR_STATE_FREEZED") || ctx.Err() != nil {
			t.Fatalf("%srun: %v", guide, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for primaryCount() != 0 {
		if ctx.Err() != nil {
			t.Fatalf("%srun: %s still leads partitions", guide, busy)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The data commands of Pegasus' shell against real replica servers.
	if got := run("incr h n 5; incr h n -2"); got != "5\n3\n" {
		t.Errorf("incr printed %q", got)
	}
	if got := run("check_and_set h -c n -t int_equal -o 3 -s n -v 10; get h n"); got != "Set succeed.\n\"10\"\n" {
		t.Errorf("check_and_set printed %q", got)
	}
	run("multi_set m a 1 b 2 c 3; multi_del m c")
	if got := run("count m"); got != "2\n" {
		t.Errorf("count printed %q", got)
	}
	var scan struct {
		Count   int `json:"count"`
		Records []struct {
			SortKey string `json:"sort_key"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(run(`hash_scan m "" "" -b true --json`)), &scan); err != nil || scan.Count != 2 || scan.Records[1].SortKey != "b" {
		t.Errorf("hash_scan --json: %v %+v", err, scan)
	}
	if got := run("full_scan -h exact -x m -i"); !strings.Contains(got, `"m" : "a"`) || !strings.Contains(got, "2 key-value pairs got.") {
		t.Errorf("full_scan printed %q", got)
	}
	if got := run("count_data -d"); got != "Count done, total 4 rows. (2 hash keys)\n" {
		t.Errorf("count_data printed %q", got)
	}
	// server_info answers from every server, flush-log too.
	if got := run("server_info"); strings.Count(got, "0.1.0") != 5 {
		t.Errorf("server_info:\n%s", got)
	}
	var flush struct {
		SucceedCount int `json:"succeed_count"`
		FailedCount  int `json:"failed_count"`
	}
	if err := json.Unmarshal([]byte(run("remote_command flush-log")), &flush); err != nil || flush.SucceedCount != 5 || flush.FailedCount != 0 {
		t.Errorf("flush-log on every server: %v %+v", err, flush)
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
	// A pipe goes on after a failure and exits non-zero at the end, with
	// the exit status of the first failure's kind (usage: 2).
	cmd = exec.Command(bin, "shell", "--meta", "127.0.0.1:1")
	cmd.Stdin = strings.NewReader("frobnicate\nhelp incr\nexit\n")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "incr <hash_key> <sort_key> [increment]") ||
		!strings.Contains(string(out), "1 of 2 commands failed") {
		t.Errorf("piped script with a failure: %v\n%s", err, out)
	}
}

// The shell finds the cluster through $PEGASUS_META_SERVERS and --onebox
// DIR; an unreachable one exits with the "cluster unreachable" status.
func TestBinaryEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pegasus binary")
	}
	bin := oneboxtest.Binary(t)
	dir := t.TempDir()
	box := filepath.Join(dir, "box")
	if err := os.MkdirAll(box, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(box, "meta_servers"), []byte("127.0.0.1:3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env, args []string
		want      string
		code      int
	}{
		{[]string{"PEGASUS_META_SERVERS=127.0.0.1:2"}, nil, "127.0.0.1:2", 4},
		{[]string{"PEGASUS_META_SERVERS=127.0.0.1:2"}, []string{"--onebox", box}, "127.0.0.1:3", 4},
		{[]string{"PEGASUS_META_SERVERS=127.0.0.1:2"}, []string{"--meta", "127.0.0.1:4", "--onebox", box}, "127.0.0.1:4", 4},
		{nil, []string{"--onebox", filepath.Join(dir, "none")}, "no onebox", 2},
	} {
		args := append([]string{"shell", "-e", "nodes"}, c.args...)
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%v pegasus %q: %v, want exit %d naming %q\n%s", c.env, args, err, c.code, c.want, out)
		}
	}
}
