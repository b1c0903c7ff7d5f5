// Package oneboxtest gives tests a pegasus binary to run real processes
// with: the binary is built from the module's ./cmd/pegasus once per test
// process.
//
//	func TestMain(m *testing.M) { oneboxtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		bin := oneboxtest.Binary(t)
//		oneboxtest.RequireRoles(t, bin, "meta", "replica")
//		c, err := onebox.Start(ctx, onebox.Options{Dir: t.TempDir(), Binary: bin})
//		...
//	}
package oneboxtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pegasus-go/pegasus/internal/config"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary returns the path of a pegasus binary built from this module's
// current source. The first call builds it (go build ./cmd/pegasus, from
// the module root that `go env GOMOD` names) into a temporary directory;
// later calls in the same test process reuse it. A build failure fails t.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.bin, build.err = buildBinary()
	})
	if build.err != nil {
		t.Fatalf("oneboxtest: %v", build.err)
	}
	return build.bin
}

func buildBinary() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build pegasus: %w", err)
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module (go env GOMOD is %q)", gomod)
	}
	dir, err := os.MkdirTemp("", "pegasus-oneboxtest-")
	if err != nil {
		return "", err
	}
	build.dir = dir
	bin := filepath.Join(dir, "pegasus")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/pegasus")
	cmd.Dir = filepath.Dir(gomod)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pegasus in %s: %v\n%s", cmd.Dir, err, stderr.String())
	}
	return bin, nil
}

// HasRole reports whether bin has the subcommand role: `bin role --help`
// succeeds.
func HasRole(bin, role string) bool {
	return exec.Command(bin, role, "--help").Run() == nil
}

// RequireRoles skips t, saying why, unless bin has every subcommand in
// roles. End-to-end tests use it so that they run as soon as the roles
// they need exist in the binary.
func RequireRoles(t testing.TB, bin string, roles ...string) {
	t.Helper()
	var missing []string
	for _, r := range roles {
		if !HasRole(bin, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		t.Skipf("the pegasus binary lacks the subcommands %s (`pegasus %s --help` fails); this test runs once they exist",
			strings.Join(missing, ", "), missing[0])
	}
}

// Main runs the tests of a package and then removes the binary Binary
// built. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// MainNoLeaks is Main for packages that own goroutines: once every test
// passed, it fails the run if goroutines are left behind (goleak), other
// than those opts ignore. A leak shows in the package that caused it,
// instead of as a slow drift of a long-running server.
func MainNoLeaks(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	Cleanup()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left behind after the tests passed:\n%v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Cleanup removes the binary Binary built, for packages whose TestMain does
// more than Main.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// FastGrace is fd_grace_seconds under FastMeta and FastReplica.
const FastGrace = 5 * time.Second

// FastMeta and FastReplica shorten the failure detector so that a killed
// server is noticed in seconds rather than Pegasus' default tens of
// seconds: beacons every 1 s, a 4 s lease, a 5 s grace, checked every
// second, and a 2 s meta election TTL. They keep the rules config
// enforces (lease < grace; lease > election TTL + beacon interval), so a
// meta failover costs no replica its lease. Use them as onebox.Tuning's
// Meta and Replica.
func FastMeta(m *config.Meta) {
	fastFailureDetector(&m.FailureDetector)
	m.ElectionTTLSeconds = 2
}

// FastReplica: see FastMeta.
func FastReplica(r *config.Replica) { fastFailureDetector(&r.FailureDetector) }

func fastFailureDetector(fd *config.FailureDetector) {
	fd.BeaconIntervalSeconds, fd.LeaseSeconds, fd.GraceSeconds, fd.CheckIntervalSeconds = 1, 4, int(FastGrace/time.Second), 1
}
