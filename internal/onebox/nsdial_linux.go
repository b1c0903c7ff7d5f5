package onebox

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// dialInNamespace dials addr from the network namespace bound at path. A
// socket belongs to the namespace of the thread that creates it, and stays
// there whichever thread uses it later; so a goroutine locked to its own
// thread enters the namespace and creates the socket (net.Dialer does so
// synchronously, before it waits for the connection). The goroutine ends
// still locked, and the runtime then discards the thread rather than
// reuse it in the wrong namespace.
func dialInNamespace(ctx context.Context, path, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: fmt.Errorf("%w: %v", ErrNetNSUnavailable, err)}
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			done <- result{err: fmt.Errorf("%w: entering %s: %v", ErrNetNSUnavailable, path, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}
