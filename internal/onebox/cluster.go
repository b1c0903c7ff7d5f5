package onebox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Defaults of Options.
const (
	DefaultDir          = "./onebox"
	DefaultMetas        = 2
	DefaultReplicas     = 3
	DefaultClusterName  = "onebox"
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 15 * time.Second
)

// killWait bounds the wait for a process to vanish after SIGKILL.
const killWait = 5 * time.Second

// Tuning adjusts the configuration of each role when a onebox is created
// (a benchmark turning log_sync off, a test shortening the failure
// detector). It has no effect when Start resumes an existing onebox, whose
// configuration files are already written.
type Tuning struct {
	Meta      func(*config.Meta)
	Replica   func(*config.Replica)
	Collector func(*config.Collector)
}

// Options describe the onebox Start creates or resumes. Zero fields take
// the defaults.
type Options struct {
	// Dir holds the whole onebox: state file, every process's directory.
	Dir string
	// Metas and Replicas are the server counts of a new onebox. Resuming
	// an existing onebox with different non-zero counts is an error.
	Metas    int
	Replicas int
	// Collector adds a collector process (also to an existing onebox).
	Collector bool
	// Binary is the pegasus binary every process runs. When empty, a new
	// onebox uses this executable, and a resumed one keeps each process's
	// binary. When set, it replaces the binary of every process. Tests
	// must set it (see oneboxtest.Binary): the test binary has no roles.
	Binary string
	// ClusterName of a new onebox.
	ClusterName string
	// Tuning of a new onebox's role configurations.
	Tuning Tuning
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// ReadyTimeout bounds Start's wait for the cluster, and every later
	// wait for a started process to serve.
	ReadyTimeout time.Duration
	// StopTimeout is how long a process may take to exit after SIGTERM
	// before it gets SIGKILL.
	StopTimeout time.Duration
	// Network is the network mode of a new onebox: NetworkLoopback (the
	// default when empty) or NetworkNetNS. Resuming an existing onebox
	// keeps its own mode; a different non-empty one is an error.
	Network string
	// TLS makes a new onebox require mutual TLS everywhere, with an
	// authority and certificates of its own (security.go). Resuming keeps
	// the onebox's own setting.
	TLS bool
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return o
}

// Cluster is a onebox: a directory and the processes it describes. The
// processes run on their own; a Cluster only starts, stops and inspects
// them, so several Clusters (a test harness and a CLI command) may manage
// the same directory, serialised by a lock on it. Methods are safe for
// concurrent use.
type Cluster struct {
	dir   string // absolute, symlinks resolved
	opts  Options
	conns *dial.Conns
	// creds are the onebox's admin credentials; scheme is its HTTP
	// listeners' URL scheme.
	creds  dial.Credentials
	scheme string
	// static is the layout at open time: names, roles and addresses never
	// change after a onebox is created.
	static []Process

	mu sync.Mutex
	// exited holds the exit notification of processes this Cluster
	// started, by PID.
	exited map[int]chan struct{}

	progressMu sync.Mutex
}

// ProcessStatus is a process with whether it runs now.
type ProcessStatus struct {
	Process
	Alive bool `json:"alive"`
}

// Open returns the existing onebox in dir without starting anything.
func Open(dir string, opts Options) (*Cluster, error) {
	opts.Dir = dir
	opts = opts.withDefaults()
	abs, err := absDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	st, err := loadState(abs)
	if err != nil {
		return nil, err
	}
	return newCluster(abs, st, opts)
}

// Start creates the onebox in opts.Dir, or resumes the one already there,
// starts every process that does not run, and returns once the cluster
// serves: etcd answers, a meta server answers ClusterInfo as the leader,
// and the meta leader lists every replica server as alive. It then writes
// the meta server list to <dir>/meta_servers. If the cluster does not come
// up, Start stops the processes it started and returns the error.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("onebox: %w", err)
	}
	dir, err := absDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	st, created, err := prepare(dir, opts)
	if err != nil {
		return nil, err
	}
	c, err := newCluster(dir, st, opts)
	if err != nil {
		return nil, err
	}
	if created {
		extra := ""
		if len(st.ofRole(RoleCollector)) > 0 {
			extra = " and a collector"
		}
		c.progress("created onebox %s: etcd, %d meta and %d replica servers%s", dir, len(st.ofRole(RoleMeta)), len(st.ofRole(RoleReplica)), extra)
	} else {
		c.progress("resuming onebox %s", dir)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	started, err := c.startAll(ctx)
	if err != nil {
		// Leave nothing half-started behind: the caller gets no Cluster to
		// stop it with.
		for _, name := range slices.Backward(started) {
			c.Stop(name)
		}
		c.teardownIfIdle()
		c.Close()
		return nil, err
	}
	return c, nil
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

func newCluster(dir string, st *State, opts Options) (*Cluster, error) {
	creds, err := loadCredentials(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		dir:    dir,
		opts:   opts,
		static: slices.Clone(st.Processes),
		exited: make(map[int]chan struct{}),
		creds:  creds,
		scheme: st.scheme(),
	}
	c.conns = dial.New(c.MetaAddrs(), dial.Options{DialTimeout: probeTimeout, CallTimeout: probeTimeout, Credentials: creds})
	return c, nil
}

// startAll starts the processes that do not run, role by role, waiting for
// each role to serve before the next depends on it. It returns the names
// of the processes it started.
func (c *Cluster) startAll(ctx context.Context) (started []string, err error) {
	st, err := c.state()
	if err != nil {
		return nil, err
	}
	byRole := func(r Role) []Process { return st.ofRole(r) }
	if err := c.ensureNetwork(st); err != nil {
		return nil, err
	}

	for _, role := range []Role{RoleEtcd, RoleMeta, RoleReplica, RoleCollector} {
		procs := byRole(role)
		if len(procs) == 0 {
			continue
		}
		for _, p := range procs {
			ok, err := c.ensureRunning(p.Name)
			if err != nil {
				return started, err
			}
			if ok {
				started = append(started, p.Name)
			}
		}
		if err := c.waitRole(ctx, role, procs); err != nil {
			return started, err
		}
		if role == RoleMeta {
			if err := c.writeMetaServers(); err != nil {
				return started, err
			}
		}
	}
	c.progress("onebox ready: meta servers %s", strings.Join(c.MetaAddrs(), ","))
	return started, nil
}

// waitRole waits until the processes of one role serve.
func (c *Cluster) waitRole(ctx context.Context, role Role, procs []Process) error {
	anyExited := func() error {
		for _, p := range procs {
			if err := c.exitedErr(p.Name); err != nil {
				return err
			}
		}
		return nil
	}
	switch role {
	case RoleMeta:
		var leader string
		if err := waitFor(ctx, "meta leader", metaLeaderReady(c.conns, c.MetaAddrs(), &leader), anyExited); err != nil {
			return err
		}
		c.progress("meta leader %s answers cluster_info", leader)
		return nil
	case RoleReplica:
		for _, p := range procs {
			if err := waitFor(ctx, p.Name, c.probeFor(p), anyExited); err != nil {
				return err
			}
		}
		c.progress("all %d replica servers alive", len(procs))
		return nil
	default:
		for _, p := range procs {
			if err := waitFor(ctx, p.Name, c.probeFor(p), anyExited); err != nil {
				return err
			}
			c.progress("%s ready at %s", p.Name, firstNonEmpty(p.Address, p.HTTPAddress))
		}
		return nil
	}
}

// probeFor returns the readiness probe of one process.
func (c *Cluster) probeFor(p Process) probe {
	switch p.Role {
	case RoleEtcd:
		return etcdReady(c, p)
	case RoleMeta:
		return metaServing(c.conns, p)
	case RoleReplica:
		return replicaAlive(c.conns, p)
	default:
		return collectorReady(c, p)
	}
}

// Dir returns the onebox directory.
func (c *Cluster) Dir() string { return c.dir }

// MetaAddrs returns the gRPC addresses of the meta servers.
func (c *Cluster) MetaAddrs() []string {
	var out []string
	for _, p := range c.static {
		if p.Role == RoleMeta {
			out = append(out, p.Address)
		}
	}
	return out
}

// Replicas returns the replica server processes (names and addresses).
func (c *Cluster) Replicas() []Process {
	var out []Process
	for _, p := range c.static {
		if p.Role == RoleReplica {
			out = append(out, p)
		}
	}
	return out
}

// Status returns every process, in start order, with whether it runs.
func (c *Cluster) Status() ([]ProcessStatus, error) {
	st, err := c.state()
	if err != nil {
		return nil, err
	}
	out := make([]ProcessStatus, len(st.Processes))
	for i, p := range st.Processes {
		out[i] = ProcessStatus{Process: p, Alive: c.alive(p)}
	}
	return out, nil
}

// StartNode starts one process if it does not run and waits until it
// serves: a replica server until the meta leader lists it as alive.
func (c *Cluster) StartNode(ctx context.Context, node string) error {
	st, p, err := c.lookup(node)
	if err != nil {
		return err
	}
	name := p.Name
	if err := c.ensureNetwork(st); err != nil {
		return err
	}
	if _, err := c.ensureRunning(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	if err := waitFor(ctx, name, c.probeFor(*p), func() error { return c.exitedErr(name) }); err != nil {
		return err
	}
	c.progress("%s serving", name)
	return nil
}

// Restart stops one process gracefully, starts it again and waits until it
// serves.
func (c *Cluster) Restart(ctx context.Context, node string) error {
	if err := c.Stop(node); err != nil {
		return err
	}
	return c.StartNode(ctx, node)
}

// Stop stops one process: SIGTERM to its process group, then SIGKILL if it
// has not exited within the stop timeout. Its data stays.
func (c *Cluster) Stop(node string) error {
	return c.terminate(node, syscall.SIGTERM)
}

// Kill kills one process with SIGKILL, as a crash would, and returns once
// it is gone.
func (c *Cluster) Kill(node string) error {
	return c.terminate(node, syscall.SIGKILL)
}

// StopAll stops every process, in reverse start order (collector, replica
// servers, meta servers, etcd), the processes of one role in parallel.
func (c *Cluster) StopAll() error {
	st, err := c.state()
	if err != nil {
		return err
	}
	var errs []error
	for _, role := range []Role{RoleCollector, RoleReplica, RoleMeta, RoleEtcd} {
		procs := st.ofRole(role)
		results := make(chan error, len(procs))
		for _, p := range procs {
			go func() { results <- c.Stop(p.Name) }()
		}
		for range procs {
			if err := <-results; err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 && len(st.Processes) > 0 {
		c.progress("onebox stopped")
	}
	if st.netns() {
		ip, err := checkNetNS()
		if err == nil {
			err = teardownNetwork(ip, st)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			c.progress("removed network namespaces and bridge %s", st.Bridge.Name)
		}
	}
	return errors.Join(errs...)
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

// Clean stops every process and deletes the onebox directory.
func (c *Cluster) Clean() error {
	if err := c.StopAll(); err != nil {
		return err
	}
	c.Close()
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("onebox: %w", err)
	}
	c.progress("removed %s", c.dir)
	return nil
}

// SetBinary makes one process run another pegasus binary from its next
// start on; a rolling upgrade swaps versions this way.
func (c *Cluster) SetBinary(node, path string) error {
	path, err := checkBinary(path)
	if err != nil {
		return err
	}
	return c.update(func(st *State) error {
		p, err := st.find(node)
		if err != nil {
			return err
		}
		p.Binary = path
		return nil
	})
}

// WaitHealthy waits until every available table is fully healthy, as the
// meta leader's ListTables reports it.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return waitFor(ctx, "tables fully healthy", tablesHealthy(c.conns), nil)
}

// Close releases the Cluster's connections. The processes keep running.
func (c *Cluster) Close() error {
	return c.conns.Close()
}

// ensureRunning starts the named process unless it runs. It reports
// whether it started it.
func (c *Cluster) ensureRunning(name string) (bool, error) {
	var started bool
	err := c.update(func(st *State) error {
		p, err := st.find(name)
		if err != nil {
			return err
		}
		if c.alive(*p) {
			return nil
		}
		exited, err := spawn(c.dir, p)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.exited[p.PID] = exited
		c.mu.Unlock()
		started = true
		c.progress("started %s (pid %d) %s", p.Name, p.PID, firstNonEmpty(p.Address, p.HTTPAddress))
		return nil
	})
	return started, err
}

// lookup reads the state file and finds the named process in it.
func (c *Cluster) lookup(node string) (*State, *Process, error) {
	st, err := c.state()
	if err != nil {
		return nil, nil, err
	}
	p, err := st.find(node)
	if err != nil {
		return nil, nil, err
	}
	return st, p, nil
}

// terminate sends sig to the named process and waits until it is gone;
// after SIGTERM it escalates to SIGKILL when the stop timeout passes.
func (c *Cluster) terminate(node string, sig syscall.Signal) error {
	_, p, err := c.lookup(node)
	if err != nil {
		return err
	}
	if !c.alive(*p) {
		return nil
	}
	alive := func() bool { return c.alive(*p) }
	if err := signalGroup(p.PID, sig); err != nil {
		return fmt.Errorf("onebox: signalling %s (pid %d): %w", p.Name, p.PID, err)
	}
	if sig != syscall.SIGKILL {
		if waitGone(alive, c.opts.StopTimeout) {
			c.reap(p.PID)
			c.progress("stopped %s (pid %d)", p.Name, p.PID)
			return nil
		}
		c.progress("%s (pid %d) still running after %s, killing it", p.Name, p.PID, c.opts.StopTimeout)
		if err := signalGroup(p.PID, syscall.SIGKILL); err != nil {
			return fmt.Errorf("onebox: killing %s (pid %d): %w", p.Name, p.PID, err)
		}
	}
	if !waitGone(alive, killWait) {
		return fmt.Errorf("%w: %s (pid %d)", ErrStuck, p.Name, p.PID)
	}
	c.reap(p.PID)
	if sig == syscall.SIGKILL {
		c.progress("killed %s (pid %d)", p.Name, p.PID)
	}
	return nil
}

// alive reports whether p runs. For a process this Cluster started, its
// exit notification is exact; for others (started by an earlier command),
// /proc tells.
func (c *Cluster) alive(p Process) bool {
	if p.PID <= 0 {
		return false
	}
	c.mu.Lock()
	exited, ours := c.exited[p.PID]
	c.mu.Unlock()
	if ours {
		select {
		case <-exited:
			return false
		default:
			// Not reaped yet; it may already be a zombie, killed through
			// another Cluster, which running reports as dead.
		}
	}
	return running(p.PID, filepath.Join(c.dir, p.Dir))
}

// reap waits (briefly) until a dead child of this Cluster has been waited
// for, so that its PID is gone from the system when Stop or Kill return.
func (c *Cluster) reap(pid int) {
	c.mu.Lock()
	exited, ours := c.exited[pid]
	delete(c.exited, pid)
	c.mu.Unlock()
	if ours {
		select {
		case <-exited:
		case <-time.After(killWait):
		}
	}
}

// exitedErr returns ErrExited, with the tail of the process's log, when the
// named process is not running.
func (c *Cluster) exitedErr(name string) error {
	_, p, err := c.lookup(name)
	if err != nil {
		return err
	}
	if c.alive(*p) {
		return nil
	}
	logPath := filepath.Join(c.dir, p.LogFile)
	return fmt.Errorf("%w: %s (pid %d); last lines of %s:\n%s", ErrExited, p.Name, p.PID, logPath, logTail(logPath, 15))
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

// writeMetaServers writes the comma-separated meta server list that the
// shell and other tools read by default.
func (c *Cluster) writeMetaServers() error {
	return writeFileAtomic(filepath.Join(c.dir, metaServersFile), []byte(strings.Join(c.MetaAddrs(), ",")+"\n"))
}

// progress writes one line; StopAll stops processes in parallel, so
// writes are serialised.
func (c *Cluster) progress(format string, args ...any) {
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	fmt.Fprintf(c.opts.Progress, "onebox: "+format+"\n", args...)
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
