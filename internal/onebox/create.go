package onebox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pegasus-go/pegasus/internal/security"
)

// prepare loads the onebox state or lays out a new one, and reconciles it
// with opts, under the directory lock.
func prepare(dir string, opts Options) (st *State, created bool, err error) {
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	binary := opts.Binary
	if binary != "" {
		if binary, err = checkBinary(binary); err != nil {
			return nil, false, err
		}
	}
	switch opts.Network {
	case "", NetworkLoopback, NetworkNetNS:
	default:
		return nil, false, fmt.Errorf("onebox: unknown network mode %q (want %s or %s)", opts.Network, NetworkLoopback, NetworkNetNS)
	}
	st, err = loadState(dir)
	switch {
	case errors.Is(err, ErrNoOnebox):
		if binary == "" {
			if binary, err = os.Executable(); err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrBinary, err)
			}
		}
		l := layout{clusterName: opts.ClusterName, metas: opts.Metas, replicas: opts.Replicas, collector: opts.Collector, binary: binary, tune: opts.Tuning, tls: opts.TLS}
		if l.metas <= 0 {
			l.metas = DefaultMetas
		}
		if l.replicas <= 0 {
			l.replicas = DefaultReplicas
		}
		if opts.Network == NetworkNetNS {
			return newNetNSState(dir, l)
		}
		if st, err = newState(dir, l); err != nil {
			return nil, false, err
		}
		created = true
	case err != nil:
		return nil, false, err
	default:
		if err := st.checkLayout(opts); err != nil {
			return nil, false, err
		}
		if st.netns() {
			if _, err := checkNetNS(); err != nil {
				return nil, false, err
			}
		}
		if opts.Collector && len(st.ofRole(RoleCollector)) == 0 {
			if err := st.addCollector(dir, opts.Tuning, binary); err != nil {
				return nil, false, err
			}
		}
		if binary != "" {
			for i := range st.Processes {
				st.Processes[i].Binary = binary
			}
		}
	}
	if err := st.save(dir); err != nil {
		return nil, false, err
	}
	return st, created, nil
}

// checkLayout rejects resuming a onebox with other server counts than asked.
func (st *State) checkLayout(opts Options) error {
	metas, replicas := len(st.ofRole(RoleMeta)), len(st.ofRole(RoleReplica))
	if (opts.Metas > 0 && opts.Metas != metas) || (opts.Replicas > 0 && opts.Replicas != replicas) {
		return fmt.Errorf("%w: it has %d meta and %d replica servers; clean it to change that", ErrLayoutMismatch, metas, replicas)
	}
	if opts.Network != "" && opts.Network != st.networkMode() {
		return fmt.Errorf("%w: its network mode is %s; clean it to change that", ErrLayoutMismatch, st.networkMode())
	}
	return nil
}

// networkMode is the onebox's network mode, loopback for older files.
func (st *State) networkMode() string {
	if st.netns() {
		return NetworkNetNS
	}
	return NetworkLoopback
}

// newNetNSState lays out a new netns onebox: it removes what a crashed
// onebox in the same directory may have left (same names), picks a subnet,
// creates the bridge whose address the ports are checked on, and lays out
// the processes. On error the bridge is removed again.
func newNetNSState(dir string, l layout) (*State, bool, error) {
	ip, err := checkNetNS()
	if err != nil {
		return nil, false, err
	}
	if err := removeLeftovers(ip, netnsTag(dir)); err != nil {
		return nil, false, err
	}
	plan, err := planNetNS(ip, dir, l.replicas)
	if err != nil {
		return nil, false, err
	}
	l.netns = &plan
	bridgeOnly := &State{Network: NetworkNetNS, Bridge: &plan.bridge}
	if err := setupNetwork(ip, bridgeOnly); err != nil {
		teardownNetwork(ip, bridgeOnly)
		return nil, false, err
	}
	st, err := newState(dir, l)
	if err == nil {
		err = st.save(dir)
	}
	if err != nil {
		teardownNetwork(ip, bridgeOnly)
		return nil, false, err
	}
	return st, true, nil
}

// addCollector adds a collector to an existing onebox.
func (st *State) addCollector(dir string, tune Tuning, binary string) error {
	host := loopbackHost
	if st.netns() {
		host = st.Bridge.Address
	}
	addrs, err := pickPorts(host, 1)
	if err != nil {
		return err
	}
	p := collectorProcess(addrs[0])
	p.Binary = binary
	if p.Binary == "" {
		p.Binary = st.Processes[0].Binary
	}
	p.Dir = p.Name
	p.LogFile = filepath.Join(p.Name, p.Name+".log")
	if err := os.MkdirAll(filepath.Join(dir, p.Dir, processDataDir), 0o700); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	var metas []string
	for _, m := range st.ofRole(RoleMeta) {
		metas = append(metas, m.Address)
	}
	if st.TLS {
		ca, err := security.LoadCA(filepath.Join(dir, certsDir))
		if err != nil {
			return fmt.Errorf("onebox: %w", err)
		}
		if err := issueFor(ca, p); err != nil {
			return err
		}
	}
	if err := writeRoleConfig(dir, st, &p, "", metas, tune); err != nil {
		return err
	}
	st.Processes = append(st.Processes, p)
	return nil
}

// checkBinary returns the absolute path of an executable file.
func checkBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBinary, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBinary, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrBinary, abs)
	}
	return abs, nil
}

// absDir returns dir as an absolute path with symlinks resolved, which is
// how /proc shows a process's working directory.
func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("onebox: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	} else if os.IsNotExist(err) {
		return "", fmt.Errorf("%w: %s does not exist", ErrNoOnebox, abs)
	}
	return abs, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
