// Package testcluster starts a onebox of real processes for an end-to-end
// test and stops it when the test ends:
//
//	func TestMain(m *testing.M) { oneboxtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		ob := testcluster.Start(t, onebox.Options{Metas: 1, Replicas: 3})
//		...
//	}
//
// It lives apart from oneboxtest because onebox's own tests use oneboxtest,
// and this package uses onebox.
package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

// startTimeout bounds how long Start waits for the cluster to serve.
const startTimeout = 2 * time.Minute

// Start starts the onebox opts describes and waits until it serves. It
// skips the test under -short and when the binary lacks the meta or
// replica role. opts.Binary defaults to oneboxtest.Binary, opts.Dir to a
// fresh temporary directory. When the test ends every process is stopped;
// if the test failed, the last lines of every process's log are printed
// first.
func Start(t testing.TB, opts onebox.Options) *onebox.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a onebox cluster; skipped with -short")
	}
	if opts.Binary == "" {
		opts.Binary = oneboxtest.Binary(t)
	}
	oneboxtest.RequireRoles(t, opts.Binary, "meta", "replica")
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	ob, err := onebox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("onebox: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			LogTails(t, opts.Dir, ob)
		}
		if err := ob.StopAll(); err != nil {
			t.Logf("stopping the onebox: %v", err)
		}
		ob.Close()
	})
	return ob
}

// LogTails prints the last lines of every process's log in the onebox at
// dir.
func LogTails(t testing.TB, dir string, ob *onebox.Cluster) {
	t.Helper()
	procs, err := ob.Status()
	if err != nil {
		t.Logf("onebox status: %v", err)
		return
	}
	for _, p := range procs {
		data, err := os.ReadFile(filepath.Join(dir, p.LogFile))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		t.Logf("--- last lines of %s:\n%s", p.Name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
}
