package onebox

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/pegasus-go/pegasus/internal/config"
)

// Per-process file names inside the process's directory.
const (
	processConfigFile = "config.toml"
	processDataDir    = "data"
)

// layout is what a new onebox is made of.
type layout struct {
	clusterName string
	metas       int
	replicas    int
	collector   bool
	binary      string
	tune        Tuning
	// netns, when set, lays the onebox out on a bridge and one network
	// namespace per replica server instead of loopback.
	netns *netnsPlan
	// tls gives every process a certificate and requires mutual TLS.
	tls bool
}

// newState lays out a new onebox in dir: it picks free ports for every
// listener (on loopback, or in netns mode on the bridge's address and on
// each replica server's own address), creates each process's directory and
// writes each role's TOML configuration. Nothing is started; in netns mode
// the bridge must exist, for the ports on its address are checked by
// binding them.
func newState(dir string, l layout) (*State, error) {
	host := loopbackHost
	need := 2 + 3*l.metas + 3*l.replicas // etcd client+peer; grpc, http, pegasus per server
	if l.netns != nil {
		host = l.netns.bridge.Address
		need -= 3 * l.replicas
	}
	if l.collector {
		need++
	}
	addrs, err := pickPorts(host, need)
	if err != nil {
		return nil, err
	}
	next := func() string {
		a := addrs[0]
		addrs = addrs[1:]
		return a
	}

	st := &State{Version: stateVersion, ClusterName: l.clusterName}
	if l.netns != nil {
		st.Network = NetworkNetNS
		st.Bridge = &l.netns.bridge
	}
	etcd := etcdProcess("etcd", next(), next())
	st.Processes = append(st.Processes, etcd)

	var metaAddrs []string
	for i := 1; i <= l.metas; i++ {
		p := Process{Name: "meta" + strconv.Itoa(i), Role: RoleMeta, Address: next(), HTTPAddress: next(), PegasusAddress: next()}
		metaAddrs = append(metaAddrs, p.Address)
		st.Processes = append(st.Processes, p)
	}
	for i := 1; i <= l.replicas; i++ {
		p := Process{Name: "replica" + strconv.Itoa(i), Role: RoleReplica}
		if l.netns != nil {
			ip := l.netns.replicaNetwork(&p, i)
			ports := privatePorts(3)
			p.Address = net.JoinHostPort(ip, strconv.Itoa(ports[0]))
			p.HTTPAddress = net.JoinHostPort(ip, strconv.Itoa(ports[1]))
			p.PegasusAddress = net.JoinHostPort(ip, strconv.Itoa(ports[2]))
		} else {
			p.Address, p.HTTPAddress, p.PegasusAddress = next(), next(), next()
		}
		st.Processes = append(st.Processes, p)
	}
	if l.collector {
		st.Processes = append(st.Processes, collectorProcess(next()))
	}

	if err := setupSecurity(dir, st, l.tls); err != nil {
		return nil, err
	}
	st.Processes[0].Args = etcdArgs(st, &st.Processes[0])
	for i := range st.Processes {
		p := &st.Processes[i]
		p.Binary = l.binary
		p.Dir = p.Name
		p.LogFile = filepath.Join(p.Name, p.Name+".log")
		if err := os.MkdirAll(filepath.Join(dir, p.Dir, processDataDir), 0o700); err != nil {
			return nil, fmt.Errorf("onebox: %w", err)
		}
		if err := writeRoleConfig(dir, st, p, etcd.Address, metaAddrs, l.tune); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// etcdProcess is a single-member etcd; it takes flags, not a config file
// (etcdArgs, once the onebox's security is known).
func etcdProcess(name, clientAddr, peerAddr string) Process {
	p := Process{Name: name, Role: RoleEtcd, Address: clientAddr, PeerAddress: peerAddr}
	p.Args = etcdArgs(&State{}, &p)
	return p
}

// etcdArgs are the flags of the onebox's etcd.
func etcdArgs(st *State, p *Process) []string {
	args := []string{"etcd",
		"--name", p.Name,
		"--data-dir", processDataDir,
		"--client-url", st.scheme() + "://" + p.Address,
		"--peer-url", st.scheme() + "://" + p.PeerAddress,
	}
	return append(args, st.etcdTLSArgs(p)...)
}

func collectorProcess(httpAddr string) Process {
	return Process{Name: "collector", Role: RoleCollector, HTTPAddress: httpAddr}
}

// writeRoleConfig writes the TOML configuration of a meta, replica or
// collector process and sets its arguments to read it. The file holds every
// key of the role, defaults included, so that an operator sees (and may
// edit) the whole configuration; it is written once, when the process is
// added, and a restart reuses it as it is. etcd takes flags only.
func writeRoleConfig(dir string, st *State, p *Process, etcdAddr string, metas []string, tune Tuning) error {
	cluster := st.ClusterName
	var cfg any
	switch p.Role {
	case RoleEtcd:
		return nil
	case RoleMeta:
		c := config.DefaultMeta()
		c.Listen, c.HTTPListen, c.PegasusListen = p.Address, p.HTTPAddress, p.PegasusAddress
		c.DataDir = processDataDir
		c.ClusterName = cluster
		c.EtcdEndpoints = []string{st.scheme() + "://" + etcdAddr}
		c.Security = st.roleSecurity(p)
		if tune.Meta != nil {
			tune.Meta(&c)
		}
		cfg = c
	case RoleReplica:
		c := config.DefaultReplica()
		c.Listen, c.HTTPListen, c.PegasusListen = p.Address, p.HTTPAddress, p.PegasusAddress
		c.DataDir = processDataDir
		c.MetaServers = metas
		c.Security = st.roleSecurity(p)
		if tune.Replica != nil {
			tune.Replica(&c)
		}
		cfg = c
	case RoleCollector:
		c := config.DefaultCollector()
		c.HTTPListen = p.HTTPAddress
		c.MetaServers = metas
		c.Security = st.roleSecurity(p)
		if st.AdminToken {
			// Its own admin calls (creating the detection table) use the
			// onebox's token.
			c.TokenFile = fromProcess(adminTokenFile)
		}
		if tune.Collector != nil {
			tune.Collector(&c)
		}
		cfg = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s of onebox cluster %q. Written when the onebox was created; edit and\n# restart the process (pegasus onebox restart %s) to change it.\n", p.Name, cluster, p.Name)
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return fmt.Errorf("onebox: encoding %s config: %w", p.Name, err)
	}
	p.ConfigFile = filepath.Join(p.Dir, processConfigFile)
	if err := os.WriteFile(filepath.Join(dir, p.ConfigFile), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	p.Args = []string{string(p.Role), "--config", processConfigFile}
	return nil
}

// loopbackHost is where every process of a loopback onebox listens.
const loopbackHost = "127.0.0.1"

// pickPorts returns n distinct free addresses on host below the kernel's
// ephemeral port range. A onebox keeps its addresses across restarts of a
// process, and while a server is down any outgoing connection on the machine
// (another program's client, a parallel test) may be given its port as a
// local port if that port lies in the ephemeral range; the server could then
// not listen again. Ports are chosen at random below the range and each is
// checked by binding it; all listeners stay open until every port is chosen,
// so no port is handed out twice. Another program may still take one before
// the onebox binds it, which the start then reports as a process that exited.
func pickPorts(host string, n int) ([]string, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	addrs := make([]string, 0, n)
	take := func(addr string) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
		return nil
	}
	lo, hi := stablePortRange()
	for tries := 0; len(addrs) < n && hi > lo && tries < 64*n; tries++ {
		take(net.JoinHostPort(host, strconv.Itoa(lo+rand.IntN(hi-lo)))) // a busy port is simply skipped
	}
	// Fall back to kernel-chosen ports when no stable range is free.
	for len(addrs) < n {
		if err := take(net.JoinHostPort(host, "0")); err != nil {
			return nil, fmt.Errorf("onebox: picking a free port: %w", err)
		}
	}
	return addrs, nil
}

// stablePortRange is [lo, hi): ports below the kernel's ephemeral range
// (Linux: /proc/sys/net/ipv4/ip_local_port_range, default 32768-60999) and
// above the well-known and commonly configured ones.
func stablePortRange() (lo, hi int) {
	lo, hi = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if _, err := fmt.Sscan(string(b), &first, &last); err == nil && first > 0 {
			hi = first
		}
	}
	if hi-lo < 1000 {
		return 0, 0
	}
	return lo, hi
}
