package onebox

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// netnsDir is where `ip netns add` bind-mounts the namespaces it names.
const netnsDir = "/run/netns"

// DialFunc opens a TCP connection to addr (host:port).
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// DialerIn returns a dialer whose connections start inside the network
// namespace of replica server node of a netns onebox: a client using it
// reaches the node over the namespace's own stack, so it keeps reaching
// it while Cut has the node off the network, and reaches everything else
// through the node's veth, as the node itself does. It fails with
// ErrNetNSUnavailable for a node in the host network.
func (c *Cluster) DialerIn(node string) (DialFunc, error) {
	st, p, err := c.lookup(node)
	if err != nil {
		return nil, err
	}
	if p.Netns == "" {
		return nil, fmt.Errorf("%w: %s runs in the host network (onebox network mode %s)", ErrNetNSUnavailable, p.Name, st.networkMode())
	}
	if _, err := checkNetNS(); err != nil {
		return nil, err
	}
	path := filepath.Join(netnsDir, p.Netns)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return dialInNamespace(ctx, path, addr)
	}, nil
}
