package onebox

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestDialInNamespace: a listener on the host's loopback is not reachable
// from inside a fresh namespace, whose loopback is another one; a listener
// started in the namespace (by a process entered into it) is.
func TestDialInNamespace(t *testing.T) {
	if os.Getenv("PEGASUS_NETNS_TEST") != "1" {
		t.Skip("creates a network namespace on the host; set PEGASUS_NETNS_TEST=1 to run it (as root, with iproute2)")
	}
	ip, err := checkNetNS()
	if err != nil {
		t.Skip(err)
	}
	ns := netnsNamespaceBase + "dialtest" + strconv.Itoa(os.Getpid())
	if _, err := runIP(ip, "netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runIP(ip, "netns", "del", ns) })
	path := filepath.Join(netnsDir, ns)

	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := dialInNamespace(ctx, path, host.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the host's loopback listener was reached from inside the namespace")
	}

	// A listener inside the namespace: nc is not everywhere, so the test
	// binary listens there itself, in a child process.
	if _, err := runIP(ip, "-n", ns, "link", "set", "dev", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(20000 + os.Getpid()%10000)
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestNamespaceListenerHelper$")
	cmd.Env = append(os.Environ(), "PEGASUS_NSDIAL_HELPER_PORT="+port)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, 64)
	if _, err := stdout.Read(buf); err != nil { // "listening" once ready
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	c, err := dialInNamespace(ctx, path, addr)
	if err != nil {
		t.Fatalf("dial %s inside the namespace: %v", addr, err)
	}
	c.Close()
}

// TestNamespaceListenerHelper is TestDialInNamespace's child: it listens
// on the port it is given until killed.
func TestNamespaceListenerHelper(t *testing.T) {
	port := os.Getenv("PEGASUS_NSDIAL_HELPER_PORT")
	if port == "" {
		t.Skip("helper process of TestDialInNamespace")
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("listening\n")
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
