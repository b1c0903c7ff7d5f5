package meta

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/embedetcd"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

// One embedded etcd on loopback serves every test of the package that
// needs a real one; each test works under its own cluster name.
var shared struct {
	once sync.Once
	dir  string
	srv  *embedetcd.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	oneboxtest.Cleanup() // the binary the end-to-end test built
	// The package owns goroutines: none may outlive the tests. Idle
	// keep-alive connections of the tests' own HTTP requests are not a
	// leak of the package.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left behind after the tests passed:\n%v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testEtcd returns the endpoints of the package's etcd, starting it once.
func testEtcd(t testing.TB) []string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "meta-etcd-")
		if shared.err != nil {
			return
		}
		shared.srv, shared.err = embedetcd.Start(embedetcd.Config{
			Name: "test", Dir: shared.dir,
			ClientURL: "http://" + freeAddr(t), PeerURL: "http://" + freeAddr(t),
		})
	})
	if shared.err != nil {
		t.Fatalf("embedded etcd: %v", shared.err)
	}
	return shared.srv.Endpoints()
}

func testClient(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: testEtcd(t), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// clusterName is a cluster name unique to the test.
func clusterName(t testing.TB) string {
	r := strings.NewReplacer("/", "-", " ", "-", "#", "-")
	return fmt.Sprintf("%s-%d", r.Replace(t.Name()), time.Now().UnixNano())
}
