package rolling

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// fileService is a fake init system: a node runs while <dir>/<port>.run
// exists, and every command appends to <dir>/log.
func fileService(t *testing.T) (ExecTemplates, string) {
	dir := t.TempDir()
	q := shellQuote(dir)
	return ExecTemplates{
		Status:  "test -f " + q + "/{port}.run || exit 3",
		Stop:    "rm -f " + q + "/{port}.run && echo stop {role} {host} >> " + q + "/log",
		Start:   "touch " + q + "/{port}.run && echo start {role} {host} >> " + q + "/log",
		Install: "cp {binary} " + q + "/{port}.bin && echo install {config_dir} >> " + q + "/log",
	}, dir
}

func readLog(t *testing.T, dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(data), "\n", " | "))
}

func TestExecControlIsIdempotentAndConfirms(t *testing.T) {
	tmpl, dir := fileService(t)
	c, err := NewExecControl(tmpl, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := Target{Role: plan.RoleReplica, Node: "127.0.0.1:34801"}

	if st, err := c.Status(ctx, r); err != nil || st != ProcessStopped {
		t.Fatalf("Status = %v, %v", st, err)
	}
	for range 2 { // the second start finds it running and does nothing
		if err := c.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := c.Status(ctx, r); st != ProcessRunning {
		t.Fatalf("after Start: %v", st)
	}
	for range 2 {
		if err := c.Stop(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "pegasus new")
	if err := os.WriteFile(bin, []byte("v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Install(ctx, r, Artifacts{Binary: bin, ConfigDir: "/etc/pegasus 2"}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "34801.bin")); err != nil || string(data) != "v2" {
		t.Fatalf("installed %q, %v", data, err)
	}
	got := strings.Join(readLog(t, dir), " ")
	want := "start replica 127.0.0.1 | stop replica 127.0.0.1 | install /etc/pegasus 2 |"
	if got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
}

func TestExecControlReportsFailures(t *testing.T) {
	ctx := context.Background()
	r := Target{Role: plan.RoleReplica, Node: "127.0.0.1:34801"}

	// A start command that fails: its output is quoted.
	tmpl, _ := fileService(t)
	tmpl.Start = "echo pegasus: no such file or directory >&2; exit 1"
	c, err := NewExecControl(tmpl, false)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(ctx, r)
	if !errors.Is(err, ErrCommandFailed) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("Start = %v", err)
	}

	// A start command that succeeds, but the service never comes up.
	tmpl.Start = "true"
	c, _ = NewExecControl(tmpl, false)
	c.poll = 10 * time.Millisecond
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Start(tctx, r); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Start of a service that never runs = %v", err)
	}

	// A status command that cannot answer is an error, not "stopped".
	tmpl.Status = "exit 255"
	c, _ = NewExecControl(tmpl, false)
	if _, err := c.Status(ctx, r); !errors.Is(err, ErrCommandFailed) {
		t.Fatalf("Status exit 255 = %v", err)
	}

	// A deadline kills the command and whatever it started.
	tmpl.Status = ""
	tmpl.Stop = "sleep 30 & sleep 30"
	c, _ = NewExecControl(tmpl, false)
	tctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Stop(tctx, r); !errors.Is(err, ErrCommandFailed) {
		t.Fatalf("Stop past its deadline = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop past its deadline took %v", d)
	}
}

func TestExecTemplatesValidation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tmpl        ExecTemplates
		needInstall bool
		want        string
	}{
		{"no stop", ExecTemplates{Start: "x"}, false, "needs a stop and a start"},
		{"no install", ExecTemplates{Start: "x", Stop: "y"}, true, "needs an install command"},
		{"unknown placeholder", ExecTemplates{Start: "x {nodes}", Stop: "y"}, false, "unknown placeholder {nodes}"},
		{"binary outside install", ExecTemplates{Start: "run {binary}", Stop: "y"}, false, "only the install command"},
		{"ok", ExecTemplates{Start: "systemctl start pegasus-{role}@{port}", Stop: "y", Install: "cp {binary} /x"}, true, ""},
	} {
		_, err := NewExecControl(tc.tmpl, tc.needInstall)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidControl) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestExecPlaceholdersCannotInject(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	node := "h'; touch " + marker + "; echo '"
	got := expand("echo {node} {role}", Target{Role: plan.RoleMeta, Node: node}, Artifacts{})
	out, err := runShell(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("placeholder value ran as a command")
	}
	if out != node+" meta" {
		t.Fatalf("output %q", out)
	}
}
