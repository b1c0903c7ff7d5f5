package onebox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

// etcdOnebox writes the state of a onebox made of n independent
// single-member etcd processes (etcd1..etcdn): real processes of the real
// binary, which the supervision tests start, kill and stop without needing
// the meta and replica roles.
func etcdOnebox(t *testing.T, bin string, n int) string {
	t.Helper()
	dir := t.TempDir()
	addrs, err := pickPorts(loopbackHost, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Version: stateVersion, ClusterName: "supervise"}
	for i := range n {
		p := etcdProcess("etcd"+strconv.Itoa(i+1), addrs[2*i], addrs[2*i+1])
		p.Binary, p.Dir, p.LogFile = bin, p.Name, filepath.Join(p.Name, p.Name+".log")
		if err := os.MkdirAll(filepath.Join(dir, p.Dir), 0o755); err != nil {
			t.Fatal(err)
		}
		st.Processes = append(st.Processes, p)
	}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gone reports whether no process has the PID any more (it exited and was
// reaped).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func statusByName(t *testing.T, c *Cluster) map[string]ProcessStatus {
	t.Helper()
	procs, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]ProcessStatus)
	for _, p := range procs {
		out[p.Name] = p
	}
	return out
}

func TestSupervisionKillRestartStop(t *testing.T) {
	bin := oneboxtest.Binary(t)
	dir := etcdOnebox(t, bin, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var progress bytes.Buffer
	c, err := Start(ctx, Options{Dir: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.StopAll(); c.Close() })

	st := statusByName(t, c)
	pids := []int{st["etcd1"].PID, st["etcd2"].PID}
	for _, name := range []string{"etcd1", "etcd2"} {
		p := st[name]
		if !p.Alive || p.PID <= 0 {
			t.Fatalf("%s not running after Start: %+v", name, p)
		}
		// Detached: each process leads its own process group.
		if pgid, err := syscall.Getpgid(p.PID); err != nil || pgid != p.PID {
			t.Errorf("%s: pgid %d (%v), want its own pid %d", name, pgid, err, p.PID)
		}
		if err := etcdReady(c, p.Process)(ctx); err != nil {
			t.Errorf("%s does not serve: %v", name, err)
		}
	}
	if !strings.Contains(progress.String(), "etcd2 ready at "+st["etcd2"].Address) {
		t.Errorf("no progress line for etcd2:\n%s", progress.String())
	}

	// kill -9 one: it is reported dead, the other is untouched.
	if err := c.Kill("etcd2"); err != nil {
		t.Fatal(err)
	}
	st = statusByName(t, c)
	if st["etcd2"].Alive || !gone(pids[1]) {
		t.Fatalf("etcd2 still alive after Kill: %+v", st["etcd2"])
	}
	if !st["etcd1"].Alive {
		t.Fatalf("etcd1 died with etcd2")
	}

	// Restart brings it back, as a new process at the same address.
	if err := c.Restart(ctx, "etcd2"); err != nil {
		t.Fatal(err)
	}
	st = statusByName(t, c)
	if !st["etcd2"].Alive || st["etcd2"].PID == pids[1] {
		t.Fatalf("etcd2 after Restart: %+v (old pid %d)", st["etcd2"], pids[1])
	}
	if err := etcdReady(c, st["etcd2"].Process)(ctx); err != nil {
		t.Fatalf("restarted etcd2 does not serve: %v", err)
	}
	pids = append(pids, st["etcd2"].PID)

	// A second Cluster on the same directory, as a later CLI command would
	// open it, sees the processes it did not start and can stop them.
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, p := range statusByName(t, other) {
		if !p.Alive {
			t.Errorf("reopened onebox reports %s dead", name)
		}
	}
	if err := other.Stop("etcd1"); err != nil {
		t.Fatal(err)
	}
	if statusByName(t, c)["etcd1"].Alive {
		t.Fatalf("etcd1 alive after Stop through another Cluster")
	}

	if err := c.StopAll(); err != nil {
		t.Fatal(err)
	}
	for name, p := range statusByName(t, c) {
		if p.Alive {
			t.Errorf("%s alive after StopAll", name)
		}
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("pid %d still exists after StopAll", pid)
		}
	}
}

// A process that cannot start (its port is taken) fails Start quickly with
// its log, and Start stops what it had started.
func TestStartReportsExitedProcessAndCleansUp(t *testing.T) {
	bin := oneboxtest.Binary(t)
	dir := etcdOnebox(t, bin, 2)
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", st.Processes[1].Address)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Start(ctx, Options{Dir: dir})
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "etcd2") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("got %v, want ErrExited for etcd2 with its log", err)
	}
	st, err = loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if p.PID > 0 && !gone(p.PID) {
			t.Errorf("%s (pid %d) left running after a failed Start", p.Name, p.PID)
		}
	}
}

// Stop escalates to SIGKILL for a process that ignores SIGTERM, and kills
// its whole process group, children included.
func TestStopEscalatesToKillForTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	p := Process{
		Name: "stubborn", Role: RoleCollector, Binary: "/bin/sh", Dir: "stubborn", LogFile: "stubborn/log",
		// The shell and its child both ignore SIGTERM (the ignored
		// disposition survives exec); the child writes its PID for the test.
		Args: []string{"-c", `trap "" TERM; sleep 300 & echo $! > child.pid; wait`},
	}
	if _, err := os.Stat(p.Binary); err != nil {
		t.Skip("no /bin/sh")
	}
	if err := os.MkdirAll(filepath.Join(dir, p.Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{Version: stateVersion, Processes: []Process{p}}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, Options{StopTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ensureRunning("stubborn"); err != nil {
		t.Fatal(err)
	}
	var childPID int
	deadline := time.Now().Add(10 * time.Second)
	for childPID == 0 && time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join(dir, p.Dir, "child.pid"))
		childPID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		time.Sleep(10 * time.Millisecond)
	}
	if childPID == 0 {
		t.Fatal("child never wrote its pid")
	}
	st, _ = loadState(dir)
	if err := c.Stop("stubborn"); err != nil {
		t.Fatal(err)
	}
	if !gone(st.Processes[0].PID) {
		t.Errorf("process survived Stop")
	}
	if !waitGone(func() bool { return !gone(childPID) }, 5*time.Second) {
		t.Errorf("child %d of the stopped process survived", childPID)
	}
}

// The CLI drives the same state file from separate processes: status,
// kill, start-node and stop, each a new `pegasus onebox` command.
func TestCLIOnExistingOnebox(t *testing.T) {
	bin := oneboxtest.Binary(t)
	dir := etcdOnebox(t, bin, 2)
	// runExit runs a command that must exit with code want and returns
	// its standard output. status exits 3 (check failed) while a process
	// is down, and still prints the status.
	runExit := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"onebox", "--dir", dir}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("pegasus onebox %s: %v", strings.Join(args, " "), err)
		}
		if code != want {
			t.Fatalf("pegasus onebox %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, stderr.String())
		}
		return string(out)
	}
	run := func(args ...string) string { t.Helper(); return runExit(0, args...) }
	status := func(want int) map[string]ProcessJSON {
		t.Helper()
		var doc StatusJSON
		if err := json.Unmarshal([]byte(runExit(want, "status", "--json")), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Network != NetworkLoopback {
			t.Fatalf("status --json: network %q, want %q", doc.Network, NetworkLoopback)
		}
		out := make(map[string]ProcessJSON)
		for _, p := range doc.Processes {
			out[p.Name] = p
		}
		return out
	}
	t.Cleanup(func() {
		if c, err := Open(dir, Options{}); err == nil {
			c.StopAll()
			c.Close()
		}
	})

	out := run("start")
	if !strings.Contains(out, "onebox ready") {
		t.Fatalf("start printed:\n%s", out)
	}
	st := status(0)
	if !st["etcd1"].Alive || !st["etcd2"].Alive || st["etcd1"].Role != "etcd" || st["etcd1"].Address == "" {
		t.Fatalf("status after start: %+v", st)
	}
	run("kill", "etcd2")
	if st2 := status(3); st2["etcd2"].Alive || !st2["etcd1"].Alive {
		t.Fatalf("status after kill etcd2: %+v", st2)
	}
	if out := runExit(3, "status"); !strings.Contains(out, "UNALIVE") {
		t.Fatalf("status table does not show the dead process:\n%s", out)
	}
	run("start-node", st["etcd2"].Address) // by address this time
	if st2 := status(0); !st2["etcd2"].Alive {
		t.Fatalf("etcd2 not back after start-node: %+v", st2)
	}
	pids := []int{st["etcd1"].PID, status(0)["etcd2"].PID}
	run("stop")
	for name, p := range status(3) {
		if p.Alive {
			t.Errorf("%s alive after stop", name)
		}
	}
	for _, pid := range pids {
		if !waitGone(func() bool { return !gone(pid) }, 5*time.Second) {
			t.Errorf("pid %d left after stop", pid)
		}
	}
	run("clean")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("clean left %s: %v", dir, err)
	}
}
