package onebox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestNewStateLaysOutDistinctPortsAndSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	st, err := newState(dir, layout{clusterName: "c1", metas: 2, replicas: 3, collector: true, binary: "/usr/bin/pegasus"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := make(map[string]string)
	for _, p := range st.Processes {
		names = append(names, p.Name)
		for _, a := range []string{p.Address, p.HTTPAddress, p.PegasusAddress, p.PeerAddress} {
			if a == "" {
				continue
			}
			if !strings.HasPrefix(a, "127.0.0.1:") {
				t.Errorf("%s listens on %s, not loopback", p.Name, a)
			}
			if other, dup := seen[a]; dup {
				t.Errorf("%s and %s share %s", p.Name, other, a)
			}
			seen[a] = p.Name
		}
		if _, err := os.Stat(filepath.Join(dir, p.Dir, processDataDir)); err != nil {
			t.Errorf("%s: data dir not created: %v", p.Name, err)
		}
	}
	want := []string{"etcd", "meta1", "meta2", "replica1", "replica2", "replica3", "collector"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("processes %v, want %v", names, want)
	}
	// etcd client+peer, 3 per meta and replica, 1 for the collector.
	if len(seen) != 2+3*5+1 {
		t.Fatalf("%d addresses, want %d", len(seen), 2+3*5+1)
	}

	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, st) {
		t.Fatalf("reloaded state differs:\n%+v\n%+v", loaded, st)
	}
}

func TestLoadStateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadState(dir); !errors.Is(err, ErrNoOnebox) {
		t.Fatalf("empty dir: %v, want ErrNoOnebox", err)
	}
	good := Process{Name: "etcd", Role: RoleEtcd, Binary: "/bin/pegasus", Args: []string{"etcd"}, Dir: "etcd"}
	cases := map[string]State{
		"future version": {Version: stateVersion + 1, Processes: []Process{good}},
		"duplicate name": {Version: stateVersion, Processes: []Process{good, good}},
		"unknown role":   {Version: stateVersion, Processes: []Process{{Name: "x", Role: "gateway", Binary: "/b", Args: []string{"x"}, Dir: "x"}}},
		"dir outside":    {Version: stateVersion, Processes: []Process{{Name: "x", Role: RoleMeta, Binary: "/b", Args: []string{"x"}, Dir: "../x"}}},
		"absolute dir":   {Version: stateVersion, Processes: []Process{{Name: "x", Role: RoleMeta, Binary: "/b", Args: []string{"x"}, Dir: "/x"}}},
		"no binary":      {Version: stateVersion, Processes: []Process{{Name: "x", Role: RoleMeta, Args: []string{"x"}, Dir: "x"}}},
	}
	for name, st := range cases {
		t.Run(name, func(t *testing.T) {
			if err := st.save(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := loadState(dir); !errors.Is(err, ErrBadState) {
				t.Fatalf("got %v, want ErrBadState", err)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(dir); !errors.Is(err, ErrBadState) {
		t.Fatalf("torn file: %v, want ErrBadState", err)
	}
}

func TestFindNode(t *testing.T) {
	st := &State{Processes: []Process{
		{Name: "etcd", Role: RoleEtcd, Address: "127.0.0.1:1"},
		{Name: "meta1", Role: RoleMeta, Address: "127.0.0.1:2", HTTPAddress: "127.0.0.1:3"},
		{Name: "replica1", Role: RoleReplica, Address: "127.0.0.1:4", PegasusAddress: "127.0.0.1:5"},
		{Name: "replica2", Role: RoleReplica, Address: "127.0.0.1:6"},
	}}
	for node, want := range map[string]string{
		"replica2":    "replica2",
		"etcd":        "etcd",
		"meta":        "meta1", // the only meta server
		"127.0.0.1:3": "meta1",
		"127.0.0.1:4": "replica1",
		"127.0.0.1:5": "replica1",
	} {
		p, err := st.find(node)
		if err != nil || p.Name != want {
			t.Errorf("find(%q) = %v, %v; want %s", node, p, err, want)
		}
	}
	for _, node := range []string{"replica", "replica3", "", "127.0.0.1:9"} {
		if _, err := st.find(node); !errors.Is(err, ErrUnknownNode) {
			t.Errorf("find(%q): %v, want ErrUnknownNode", node, err)
		}
	}
}

func TestCheckLayout(t *testing.T) {
	st, err := newState(t.TempDir(), layout{clusterName: "c", metas: 1, replicas: 3, binary: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []Options{{}, {Metas: 1}, {Replicas: 3}, {Metas: 1, Replicas: 3}} {
		if err := st.checkLayout(ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Options{{Metas: 2}, {Replicas: 5}} {
		if err := st.checkLayout(bad); !errors.Is(err, ErrLayoutMismatch) {
			t.Errorf("%+v: %v, want ErrLayoutMismatch", bad, err)
		}
	}
}
