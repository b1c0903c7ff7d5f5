package onebox

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestNetNSNames(t *testing.T) {
	tag := netnsTag("/tmp/onebox-a")
	if len(tag) != netnsTagLen || tag == netnsTag("/tmp/onebox-b") {
		t.Fatalf("tag %q: want %d hex digits, different per directory", tag, netnsTagLen)
	}
	if tag != netnsTag("/tmp/onebox-a") {
		t.Fatal("tag not stable")
	}
	for _, name := range []string{bridgeName(tag), hostVethName(tag, 1), peerVethName(tag, 1), hostVethName(tag, 99999), peerVethName(tag, 99999)} {
		if len(name) > maxInterfaceName {
			t.Errorf("interface name %q is %d bytes, more than %d", name, len(name), maxInterfaceName)
		}
		if !strings.Contains(name, tag) {
			t.Errorf("interface name %q lacks the tag %q", name, tag)
		}
	}
	if hostVethName(tag, 1) == peerVethName(tag, 1) || hostVethName(tag, 1) == hostVethName(tag, 2) {
		t.Error("veth names collide")
	}
	if got := namespaceName(tag, 3); got != "pegasus-"+tag+"-replica3" {
		t.Errorf("namespace %q", got)
	}
	if got := replicaIP(7, 2); got != "10.201.7.12" {
		t.Errorf("replica 2 in subnet 7: %s", got)
	}
	if got := subnetAddress(7, 1); got != "10.201.7.1" {
		t.Errorf("bridge of subnet 7: %s", got)
	}
}

func TestPickSubnetAvoidsOverlaps(t *testing.T) {
	cidr := func(s string) *net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tag := "000005" // starts at N = 6
	n, err := pickSubnet(tag, nil)
	if err != nil || n != 6 {
		t.Fatalf("free host: %d, %v; want 6", n, err)
	}
	// An address inside 10.201.6.0/24, a route covering 10.201.7.0/24 and a
	// wider route around 10.201.8.0/24 are all overlaps.
	taken := []*net.IPNet{cidr("10.201.6.0/24"), cidr("10.201.7.128/25"), cidr("10.201.8.0/23"), cidr("192.168.0.0/16")}
	if n, err := pickSubnet(tag, taken); err != nil || n != 10 {
		t.Fatalf("pickSubnet = %d, %v; want 10", n, err)
	}
	if _, err := pickSubnet(tag, []*net.IPNet{cidr("10.0.0.0/8")}); !errors.Is(err, ErrNetNSUnavailable) {
		t.Fatalf("all of 10/8 taken: err %v", err)
	}
}

func TestParseRoutes(t *testing.T) {
	got := parseRoutes(`default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 10.9.0.255 dev eth1 table local proto kernel scope link src 10.9.0.1
`)
	var s []string
	for _, n := range got {
		s = append(s, n.String())
	}
	want := []string{"192.0.2.0/24", "127.0.0.0/8", "10.9.0.255/32"}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("parseRoutes = %v, want %v", s, want)
	}
}

// A netns layout puts etcd and the meta servers on the bridge address and
// each replica server on its own address in the subnet, and the state file
// keeps the mode and every name across a reload.
func TestNetNSStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tag := netnsTag(dir)
	// The bridge does not exist here (no root needed): loopback stands in
	// for its address, where the ports are checked by binding.
	plan := &netnsPlan{tag: tag, subnet: 42, bridge: Bridge{Name: bridgeName(tag), Address: "127.0.0.1"}}
	st, err := newState(dir, layout{clusterName: "n", metas: 1, replicas: 3, collector: true, binary: "/b", netns: plan})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, back) {
		t.Fatalf("reloaded state differs:\n%+v\n%+v", st, back)
	}
	if back.Network != NetworkNetNS || back.networkMode() != NetworkNetNS || back.Bridge.Name != bridgeName(tag) {
		t.Fatalf("mode %q bridge %+v", back.Network, back.Bridge)
	}
	for _, p := range back.Processes {
		switch p.Role {
		case RoleReplica:
			i := strings.TrimPrefix(p.Name, "replica")
			if p.Netns != "pegasus-"+tag+"-replica"+i || p.HostVeth != "pgh"+tag+"r"+i || p.PeerVeth != "pgn"+tag+"r"+i {
				t.Errorf("%s: namespace %q veths %q %q", p.Name, p.Netns, p.HostVeth, p.PeerVeth)
			}
			for _, a := range []string{p.Address, p.HTTPAddress, p.PegasusAddress} {
				if !strings.HasPrefix(a, "10.201.42.1"+i+":") {
					t.Errorf("%s listens on %s", p.Name, a)
				}
			}
		default:
			if p.Netns != "" || p.HostVeth != "" {
				t.Errorf("%s is in a namespace", p.Name)
			}
			for _, a := range []string{p.Address, p.HTTPAddress, p.PegasusAddress, p.PeerAddress} {
				if a != "" && !strings.HasPrefix(a, "127.0.0.1:") {
					t.Errorf("%s listens on %s, not the bridge address", p.Name, a)
				}
			}
		}
	}
	// The replica server's config file names its own address.
	data, err := os.ReadFile(filepath.Join(dir, "replica2", processConfigFile))
	if err != nil || !strings.Contains(string(data), "10.201.42.12:") {
		t.Errorf("replica2 config lacks its namespace address: %v\n%s", err, data)
	}

	// A loopback state written by older code (no network key) reads back
	// as loopback.
	lo, err := newState(t.TempDir(), layout{clusterName: "l", metas: 1, replicas: 1, binary: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if lo.Network != "" || lo.networkMode() != NetworkLoopback || lo.Bridge != nil {
		t.Errorf("loopback state: mode %q bridge %+v", lo.Network, lo.Bridge)
	}
}

func TestNetNSStateValidation(t *testing.T) {
	good := func() *State {
		return &State{Version: stateVersion, Network: NetworkNetNS, Bridge: &Bridge{Name: "pgbr000000", Address: "10.201.1.1"},
			Processes: []Process{{Name: "replica1", Role: RoleReplica, Binary: "/b", Args: []string{"replica"}, Dir: "replica1",
				Netns: "pegasus-000000-replica1", HostVeth: "pgh000000r1", PeerVeth: "pgn000000r1"}}}
	}
	if err := good().validate(); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(*State){
		"unknown mode":         func(st *State) { st.Network = "vlan" },
		"netns without bridge": func(st *State) { st.Bridge = nil },
		"namespace, loopback":  func(st *State) { st.Network, st.Bridge = "", nil },
		"namespace, no veth":   func(st *State) { st.Processes[0].HostVeth = "" },
	} {
		st := good()
		breakIt(st)
		if err := st.validate(); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: err %v, want ErrBadState", name, err)
		}
	}
}

func TestCheckLayoutNetworkMode(t *testing.T) {
	lo := &State{}
	if err := lo.checkLayout(Options{Network: NetworkNetNS}); !errors.Is(err, ErrLayoutMismatch) {
		t.Errorf("netns asked of a loopback onebox: %v", err)
	}
	for _, mode := range []string{"", NetworkLoopback} {
		if err := lo.checkLayout(Options{Network: mode}); err != nil {
			t.Errorf("mode %q on a loopback onebox: %v", mode, err)
		}
	}
	ns := &State{Network: NetworkNetNS}
	if err := ns.checkLayout(Options{}); err != nil {
		t.Errorf("resuming a netns onebox without a mode: %v", err)
	}
	if err := ns.checkLayout(Options{Network: NetworkLoopback}); !errors.Is(err, ErrLayoutMismatch) {
		t.Errorf("loopback asked of a netns onebox: %v", err)
	}
}
