package onebox

import (
	"net"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/pegasus-go/pegasus/internal/config"
)

// The configuration files a onebox writes are read back by the roles'
// own loader (which rejects unknown keys) and pass its validation.
func TestRoleConfigsLoadBack(t *testing.T) {
	dir := t.TempDir()
	st, err := newState(dir, layout{
		clusterName: "c7", metas: 2, replicas: 2, collector: true, binary: "/b",
		tune: Tuning{Replica: func(r *config.Replica) { r.LogSync = false }},
	})
	if err != nil {
		t.Fatal(err)
	}
	etcd := st.ofRole(RoleEtcd)[0]
	metas := []string{st.ofRole(RoleMeta)[0].Address, st.ofRole(RoleMeta)[1].Address}

	for _, p := range st.Processes {
		if p.Role == RoleEtcd {
			if p.ConfigFile != "" {
				t.Errorf("etcd has a config file")
			}
			continue
		}
		if want := []string{string(p.Role), "--config", processConfigFile}; !reflect.DeepEqual(p.Args, want) {
			t.Errorf("%s args %q, want %q", p.Name, p.Args, want)
		}
		path := filepath.Join(dir, p.ConfigFile)
		switch p.Role {
		case RoleMeta:
			c := config.DefaultMeta()
			if err := config.Load(path, &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Listen != p.Address || c.HTTPListen != p.HTTPAddress || c.PegasusListen != p.PegasusAddress ||
				c.ClusterName != "c7" || !reflect.DeepEqual(c.EtcdEndpoints, []string{"http://" + etcd.Address}) || c.DataDir != processDataDir {
				t.Errorf("%s config %+v", p.Name, c)
			}
			if c.GraceSeconds != config.DefaultFailureDetector().GraceSeconds {
				t.Errorf("%s: embedded failure detector keys lost: %+v", p.Name, c.FailureDetector)
			}
		case RoleReplica:
			c := config.DefaultReplica()
			c.LogSync = true
			if err := config.Load(path, &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Listen != p.Address || !reflect.DeepEqual(c.MetaServers, metas) || c.LogSync {
				t.Errorf("%s config %+v", p.Name, c)
			}
		case RoleCollector:
			c := config.DefaultCollector()
			if err := config.Load(path, &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.HTTPListen != p.HTTPAddress || !reflect.DeepEqual(c.MetaServers, metas) {
				t.Errorf("%s config %+v", p.Name, c)
			}
		}
	}
}

func TestPickPortsDistinct(t *testing.T) {
	addrs, err := pickPorts(loopbackHost, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("port %s picked twice", a)
		}
		seen[a] = true
	}
}

// TestPickPortsAvoidsEphemeralRange: a onebox keeps its ports across
// restarts, so they must not come from the range the kernel hands out to
// outgoing connections, which could take a port while its server is down.
func TestPickPortsAvoidsEphemeralRange(t *testing.T) {
	lo, hi := stablePortRange()
	if hi == 0 {
		t.Skip("no stable port range on this machine")
	}
	addrs, err := pickPorts(loopbackHost, 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("port %s handed out twice", a)
		}
		seen[a] = true
		_, portStr, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(portStr)
		if port < lo || port >= hi {
			t.Errorf("port %d outside the stable range [%d, %d)", port, lo, hi)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("picked port %s is not free: %v", a, err)
			continue
		}
		l.Close()
	}
}
