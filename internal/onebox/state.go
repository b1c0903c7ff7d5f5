package onebox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Role is what a process of the onebox runs: the subcommand of the pegasus
// binary.
type Role string

// The roles, in start order: each depends on the ones before it.
const (
	RoleEtcd      Role = "etcd"
	RoleMeta      Role = "meta"
	RoleReplica   Role = "replica"
	RoleCollector Role = "collector"
)

func (r Role) valid() bool {
	switch r {
	case RoleEtcd, RoleMeta, RoleReplica, RoleCollector:
		return true
	}
	return false
}

// Files of a onebox directory.
const (
	stateFile       = "onebox.json"
	lockFile        = "onebox.lock"
	metaServersFile = "meta_servers"
	stateVersion    = 1
)

// State is the content of onebox.json: everything needed to run the same
// cluster again. Addresses are chosen once, when the onebox is created, so
// that a restarted process comes back where its peers and the meta servers
// expect it.
type State struct {
	Version     int       `json:"version"`
	ClusterName string    `json:"cluster_name"`
	Processes   []Process `json:"processes"`
	// Network is the network mode: NetworkNetNS, or empty (older files)
	// or NetworkLoopback for the loopback one.
	Network string `json:"network,omitempty"`
	// Bridge is the host bridge of a netns onebox.
	Bridge *Bridge `json:"bridge,omitempty"`
	// AdminToken: the servers accept the token in admin_token (every
	// onebox made since admin calls are checked). TLS: every listener
	// requires mutual TLS with the certificates in certs/ (security.go).
	AdminToken bool `json:"admin_token,omitempty"`
	TLS        bool `json:"tls,omitempty"`
}

// netns reports whether the onebox runs its replica servers in network
// namespaces.
func (st *State) netns() bool { return st.Network == NetworkNetNS }

// Process is one OS process of the onebox. Paths other than Binary are
// relative to the onebox directory, so that the directory can be moved.
type Process struct {
	// Name identifies the process: etcd, meta1, replica2, collector.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Address is the gRPC address (for etcd, its client address).
	Address        string `json:"address,omitempty"`
	HTTPAddress    string `json:"http_address,omitempty"`
	PegasusAddress string `json:"pegasus_address,omitempty"`
	// PeerAddress is etcd's peer address.
	PeerAddress string `json:"peer_address,omitempty"`
	// PID of the last start; the process may have died since.
	PID int `json:"pid"`
	// Binary is the absolute path of the pegasus binary that runs it.
	Binary string `json:"binary"`
	// Args follow the binary; they start with the role's subcommand.
	Args []string `json:"args"`
	// Dir is the process's working directory; its data, config and log
	// live there.
	Dir        string `json:"dir"`
	ConfigFile string `json:"config_file,omitempty"`
	LogFile    string `json:"log_file"`
	// Netns is the network namespace the process runs in (netns mode,
	// replica servers); HostVeth and PeerVeth are the host and namespace
	// ends of its veth pair.
	Netns    string `json:"netns,omitempty"`
	HostVeth string `json:"host_veth,omitempty"`
	PeerVeth string `json:"peer_veth,omitempty"`
}

// loadState reads dir/onebox.json.
func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoOnebox, dir, stateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, filepath.Join(dir, stateFile), err)
	}
	if err := st.validate(); err != nil {
		return nil, err
	}
	return &st, nil
}

// validate rejects a state file this code cannot run.
func (st *State) validate() error {
	if st.Version != stateVersion {
		return fmt.Errorf("%w: version %d, this binary reads version %d", ErrBadState, st.Version, stateVersion)
	}
	switch st.Network {
	case "", NetworkLoopback:
	case NetworkNetNS:
		if st.Bridge == nil || st.Bridge.Name == "" || net.ParseIP(st.Bridge.Address) == nil {
			return fmt.Errorf("%w: netns onebox without a valid bridge", ErrBadState)
		}
	default:
		return fmt.Errorf("%w: unknown network mode %q", ErrBadState, st.Network)
	}
	seen := make(map[string]bool)
	for _, p := range st.Processes {
		if p.Netns != "" && (!st.netns() || p.HostVeth == "" || p.PeerVeth == "") {
			return fmt.Errorf("%w: process %s has a namespace without a netns network or veth names", ErrBadState, p.Name)
		}
		switch {
		case p.Name == "" || seen[p.Name]:
			return fmt.Errorf("%w: missing or duplicate process name %q", ErrBadState, p.Name)
		case !p.Role.valid():
			return fmt.Errorf("%w: process %s has unknown role %q", ErrBadState, p.Name, p.Role)
		case p.Binary == "" || len(p.Args) == 0 || p.Dir == "" || filepath.IsAbs(p.Dir) || strings.HasPrefix(p.Dir, ".."):
			return fmt.Errorf("%w: process %s lacks a binary, arguments or a directory inside the onebox", ErrBadState, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// save writes dir/onebox.json atomically: a crash mid-write leaves the old
// file, never a torn one.
func (st *State) save(dir string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("onebox: encoding state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(data, '\n'))
}

// writeFileAtomic replaces path with data through a temporary file and a
// rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	return nil
}

// find returns the process a node name designates: its name, its role when
// only one process has that role (etcd, collector), or any of its
// addresses.
func (st *State) find(node string) (*Process, error) {
	for i := range st.Processes {
		if st.Processes[i].Name == node {
			return &st.Processes[i], nil
		}
	}
	var byRole []*Process
	for i := range st.Processes {
		p := &st.Processes[i]
		if string(p.Role) == node {
			byRole = append(byRole, p)
		}
		if node != "" && (p.Address == node || p.HTTPAddress == node || p.PegasusAddress == node) {
			return p, nil
		}
	}
	if len(byRole) == 1 {
		return byRole[0], nil
	}
	names := make([]string, len(st.Processes))
	for i, p := range st.Processes {
		names[i] = p.Name
	}
	if len(byRole) > 1 {
		return nil, fmt.Errorf("%w: %q is ambiguous, name one of %s", ErrUnknownNode, node, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownNode, node, strings.Join(names, ", "))
}

// ofRole returns the processes of one role, in state order.
func (st *State) ofRole(r Role) []Process {
	var out []Process
	for _, p := range st.Processes {
		if p.Role == r {
			out = append(out, p)
		}
	}
	return out
}

// lockDir takes an exclusive lock on the onebox directory, so that a CLI
// command and a test harness (or two CLI commands) do not interleave their
// read-modify-write of onebox.json. The lock is released by the returned
// function, or by the kernel if the process dies.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("onebox: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("onebox: locking %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// state reads the state file.
func (c *Cluster) state() (*State, error) {
	return loadState(c.dir)
}

// update applies fn to the state file under the directory lock.
func (c *Cluster) update(fn func(*State) error) error {
	unlock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := loadState(c.dir)
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return st.save(c.dir)
}
