package onebox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Network modes of a onebox.
const (
	// NetworkLoopback: every process listens on 127.0.0.1 (the default).
	NetworkLoopback = "loopback"
	// NetworkNetNS: every replica server runs in its own Linux network
	// namespace behind a veth pair on a host bridge, so that one can be cut
	// off the network while it keeps running. etcd, the meta servers and the
	// collector stay in the host namespace on the bridge's address. Linux
	// only, as root, with `ip` from iproute2.
	NetworkNetNS = "netns"
)

// Limits of the netns layout.
const (
	netnsSubnetPrefix  = "10.201."
	netnsFirstReplica  = 10 // replica i is 10.201.N.(10+i)
	netnsMaxReplicas   = 254 - netnsFirstReplica
	maxInterfaceName   = 15 // IFNAMSIZ - 1
	netnsTagLen        = 6  // hex digits of the directory hash in every name
	netnsPrefixLen     = 24
	netnsBridgePrefix  = "pgbr"
	netnsHostVethChar  = "pgh"
	netnsPeerVethChar  = "pgn"
	netnsNamespaceBase = "pegasus-"
)

// Bridge is the host side of a netns onebox, recorded in onebox.json.
type Bridge struct {
	// Name of the Linux bridge interface.
	Name string `json:"name"`
	// Address is the bridge's IPv4 address, where etcd, the meta servers
	// and the collector listen; the subnet is its /24.
	Address string `json:"address"`
}

// netnsTag is a short hash of the onebox directory that every interface
// and namespace name of the onebox carries, so that oneboxes in different
// directories do not collide.
func netnsTag(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:])[:netnsTagLen]
}

func bridgeName(tag string) string { return netnsBridgePrefix + tag }

// namespaceName, hostVethName and peerVethName name the pieces of replica
// server i (1-based).
func namespaceName(tag string, i int) string {
	return netnsNamespaceBase + tag + "-replica" + strconv.Itoa(i)
}
func hostVethName(tag string, i int) string { return netnsHostVethChar + tag + "r" + strconv.Itoa(i) }
func peerVethName(tag string, i int) string { return netnsPeerVethChar + tag + "r" + strconv.Itoa(i) }

// subnetAddress is host h of 10.201.n.0/24.
func subnetAddress(n, h int) string {
	return netnsSubnetPrefix + strconv.Itoa(n) + "." + strconv.Itoa(h)
}

// replicaIP is replica server i's address in subnet n.
func replicaIP(n, i int) string { return subnetAddress(n, netnsFirstReplica+i) }

// pickSubnet returns N such that 10.201.N.0/24 overlaps none of taken,
// starting from a value derived from tag so that concurrent oneboxes tend
// to pick different subnets even before either has created its bridge.
func pickSubnet(tag string, taken []*net.IPNet) (int, error) {
	start := 1
	if v, err := strconv.ParseUint(tag, 16, 64); err == nil {
		start = int(v%254) + 1
	}
	for k := range 254 {
		n := (start-1+k)%254 + 1
		_, sub, _ := net.ParseCIDR(subnetAddress(n, 0) + "/" + strconv.Itoa(netnsPrefixLen))
		if !overlapsAny(sub, taken) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: every 10.201.N.0/24 overlaps an existing address or route", ErrNetNSUnavailable)
}

func overlapsAny(sub *net.IPNet, taken []*net.IPNet) bool {
	for _, t := range taken {
		if t.Contains(sub.IP) || sub.Contains(t.IP) {
			return true
		}
	}
	return false
}

// usedNetworks returns the IPv4 networks of every interface address and
// every route (default routes aside) of the host namespace.
func usedNetworks(ip string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("%w: listing addresses: %v", ErrNetNSUnavailable, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask})
		}
	}
	routes, err := runIP(ip, "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	return append(out, parseRoutes(routes)...), nil
}

// parseRoutes extracts the destinations of `ip -4 route show` lines; a
// line starts with the destination, possibly after a route type.
func parseRoutes(text string) []*net.IPNet {
	var out []*net.IPNet
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if i > 1 || f == "default" {
				break
			}
			if !strings.Contains(f, "/") {
				f += "/32"
			}
			if _, n, err := net.ParseCIDR(f); err == nil {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// checkNetNS returns nil when the netns mode can run here, else an error
// wrapping ErrNetNSUnavailable that says why. It returns the path of ip.
func checkNetNS() (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("%w: network namespaces are Linux only (this is %s)", ErrNetNSUnavailable, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: creating namespaces, veths and a bridge needs root", ErrNetNSUnavailable)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return "", fmt.Errorf("%w: ip from iproute2 is not on PATH: %v", ErrNetNSUnavailable, err)
	}
	if _, err := runIP(ip, "netns", "list"); err != nil {
		return "", err
	}
	return ip, nil
}

// runIP runs ip with args and returns its standard output.
func runIP(ip string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ip, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: ip %s: %v: %s", ErrNetNSUnavailable, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// netnsPlan is the network of a new netns onebox, before its ports.
type netnsPlan struct {
	tag    string
	subnet int
	bridge Bridge
}

// planNetNS derives the names of a new netns onebox in dir and picks a
// subnet that overlaps nothing on the host. A leftover bridge of an
// earlier onebox in the same directory does not count as an overlap: it
// is removed before the new one is created.
func planNetNS(ip, dir string, replicas int) (netnsPlan, error) {
	if replicas > netnsMaxReplicas {
		return netnsPlan{}, fmt.Errorf("%w: at most %d replica servers fit the /24", ErrNetNSUnavailable, netnsMaxReplicas)
	}
	tag := netnsTag(dir)
	if l := len(hostVethName(tag, replicas)); l > maxInterfaceName {
		return netnsPlan{}, fmt.Errorf("%w: interface name of %d bytes exceeds %d", ErrNetNSUnavailable, l, maxInterfaceName)
	}
	if err := deleteLink(ip, bridgeName(tag)); err != nil {
		return netnsPlan{}, err
	}
	taken, err := usedNetworks(ip)
	if err != nil {
		return netnsPlan{}, err
	}
	n, err := pickSubnet(tag, taken)
	if err != nil {
		return netnsPlan{}, err
	}
	return netnsPlan{tag: tag, subnet: n, bridge: Bridge{Name: bridgeName(tag), Address: subnetAddress(n, 1)}}, nil
}

// replicaNetwork fills in the namespace, veth names and address of
// replica server i (1-based) of a netns onebox.
func (pl netnsPlan) replicaNetwork(p *Process, i int) string {
	p.Netns = namespaceName(pl.tag, i)
	p.HostVeth = hostVethName(pl.tag, i)
	p.PeerVeth = peerVethName(pl.tag, i)
	return replicaIP(pl.subnet, i)
}

// privatePorts returns n distinct ports below the ephemeral range for a
// server alone in its own network namespace. Nothing else listens there,
// so binding to check them is neither needed nor possible from the host
// namespace; staying below the ephemeral range still matters, for the
// server's own outgoing connections take ephemeral ports in its namespace.
func privatePorts(n int) []int {
	lo, hi := stablePortRange()
	if hi <= lo {
		lo, hi = 20000, 32768
	}
	seen := make(map[int]bool, n)
	out := make([]int, 0, n)
	for len(out) < n {
		p := lo + rand.IntN(hi-lo)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// linkExists reports whether the host namespace has an interface name.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// deleteLink removes an interface of the host namespace if it exists.
func deleteLink(ip, name string) error {
	if !linkExists(name) {
		return nil
	}
	_, err := runIP(ip, "link", "del", "dev", name)
	return err
}

// namespaces returns the names `ip netns list` shows.
func namespaces(ip string) (map[string]bool, error) {
	out, err := runIP(ip, "netns", "list")
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names[f[0]] = true
		}
	}
	return names, nil
}

// setupNetwork creates what is missing of st's netns network: the bridge
// with its address, and per replica server its namespace (lo up) and veth
// pair (host side on the bridge, namespace side with the server's
// address). A host veth that exists is left as it is, so that resuming a
// onebox does not heal a node that was cut on purpose.
func setupNetwork(ip string, st *State) error {
	b := st.Bridge
	if b == nil {
		return fmt.Errorf("%w: netns onebox without a bridge", ErrBadState)
	}
	if !linkExists(b.Name) {
		if _, err := runIP(ip, "link", "add", "name", b.Name, "type", "bridge"); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"addr", "replace", b.Address + "/" + strconv.Itoa(netnsPrefixLen), "dev", b.Name},
		{"link", "set", "dev", b.Name, "up"},
	} {
		if _, err := runIP(ip, args...); err != nil {
			return err
		}
	}
	have, err := namespaces(ip)
	if err != nil {
		return err
	}
	for _, p := range st.Processes {
		if p.Netns == "" {
			continue
		}
		if !have[p.Netns] {
			if _, err := runIP(ip, "netns", "add", p.Netns); err != nil {
				return err
			}
		}
		if !linkExists(p.HostVeth) {
			for _, args := range [][]string{
				{"link", "add", "name", p.HostVeth, "type", "veth", "peer", "name", p.PeerVeth, "netns", p.Netns},
				{"link", "set", "dev", p.HostVeth, "master", b.Name},
				{"link", "set", "dev", p.HostVeth, "up"},
			} {
				if _, err := runIP(ip, args...); err != nil {
					return err
				}
			}
		}
		host, _, err := net.SplitHostPort(p.Address)
		if err != nil {
			return fmt.Errorf("%w: %s address %q: %v", ErrBadState, p.Name, p.Address, err)
		}
		for _, args := range [][]string{
			{"-n", p.Netns, "link", "set", "dev", "lo", "up"},
			{"-n", p.Netns, "addr", "replace", host + "/" + strconv.Itoa(netnsPrefixLen), "dev", p.PeerVeth},
			{"-n", p.Netns, "link", "set", "dev", p.PeerVeth, "up"},
		} {
			if _, err := runIP(ip, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// teardownNetwork removes every veth, namespace and the bridge of st's
// netns network that exists. Deleting the host end of a veth pair deletes
// both ends; it goes first because a deleted namespace takes its end
// along only once the kernel gets round to it.
func teardownNetwork(ip string, st *State) error {
	have, err := namespaces(ip)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range st.Processes {
		if p.HostVeth != "" {
			errs = append(errs, deleteLink(ip, p.HostVeth))
		}
		if p.Netns != "" && have[p.Netns] {
			if _, err := runIP(ip, "netns", "del", p.Netns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if st.Bridge != nil {
		errs = append(errs, deleteLink(ip, st.Bridge.Name))
	}
	return errors.Join(errs...)
}

// removeLeftovers removes every namespace and interface carrying tag: what
// a crashed onebox in the same directory left behind.
func removeLeftovers(ip, tag string) error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("%w: listing interfaces: %v", ErrNetNSUnavailable, err)
	}
	var errs []error
	for _, prefix := range []string{netnsHostVethChar + tag, bridgeName(tag)} {
		for _, i := range ifs {
			if strings.HasPrefix(i.Name, prefix) {
				errs = append(errs, deleteLink(ip, i.Name))
			}
		}
	}
	have, err := namespaces(ip)
	if err != nil {
		return err
	}
	for ns := range have {
		if strings.HasPrefix(ns, netnsNamespaceBase+tag+"-") {
			if _, err := runIP(ip, "netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// teardownIfIdle removes the netns network of the onebox when none of its
// processes runs.
func (c *Cluster) teardownIfIdle() {
	st, err := c.state()
	if err != nil || !st.netns() {
		return
	}
	for _, p := range st.Processes {
		if c.alive(p) {
			return
		}
	}
	if ip, err := checkNetNS(); err == nil {
		if err := teardownNetwork(ip, st); err == nil {
			c.progress("removed network namespaces and bridge %s", st.Bridge.Name)
		}
	}
}

// ensureNetwork creates what is missing of a netns onebox's network. When
// none of its processes runs, whatever an earlier run left behind is
// removed first, so that a crashed run's half-configured pieces do not
// linger. A loopback onebox needs nothing.
func (c *Cluster) ensureNetwork(st *State) error {
	if !st.netns() {
		return nil
	}
	ip, err := checkNetNS()
	if err != nil {
		return err
	}
	idle := true
	for _, p := range st.Processes {
		if c.alive(p) {
			idle = false
			break
		}
	}
	if idle && linkExists(st.Bridge.Name) {
		if err := teardownNetwork(ip, st); err != nil {
			return err
		}
	}
	if err := setupNetwork(ip, st); err != nil {
		return err
	}
	if idle {
		c.progress("network: bridge %s at %s, one namespace per replica server", st.Bridge.Name, st.Bridge.Address)
	}
	return nil
}

// Network returns the onebox's network mode.
func (c *Cluster) Network() string {
	st, err := c.state()
	if err != nil {
		return NetworkLoopback
	}
	return st.networkMode()
}

// Cut cuts a replica server of a netns onebox off the network while it
// keeps running: the host end of its veth pair goes down, which also
// drops the carrier of the namespace end, so that no packet passes in
// either direction and none is answered (no reset, no unreachable). Its
// peers and clients see a silent network, as behind a failed switch port.
func (c *Cluster) Cut(node string) error {
	return c.setLink(node, "down")
}

// Heal undoes Cut: the host end of the veth comes back up. Healing a node
// that is not cut does nothing.
func (c *Cluster) Heal(node string) error {
	return c.setLink(node, "up")
}

func (c *Cluster) setLink(node, state string) error {
	st, p, err := c.lookup(node)
	if err != nil {
		return err
	}
	if p.HostVeth == "" {
		return fmt.Errorf("%w: %s runs in the host network (onebox network mode %s)", ErrNetNSUnavailable, p.Name, st.networkMode())
	}
	ip, err := checkNetNS()
	if err != nil {
		return err
	}
	if _, err := runIP(ip, "link", "set", "dev", p.HostVeth, state); err != nil {
		return err
	}
	c.progress("%s: link %s %s", p.Name, p.HostVeth, state)
	return nil
}
