package onebox

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
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

// WaitHealthy waits until every available table is fully healthy, as the
// meta leader's ListTables reports it.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return waitFor(ctx, "tables fully healthy", tablesHealthy(c.conns), nil)
}

// Close releases the Cluster's connections. The processes keep running.
func (c *Cluster) Close() error {
	return c.conns.Close()
}

// progress writes one line; StopAll stops processes in parallel, so
// writes are serialised.
func (c *Cluster) progress(format string, args ...any) {
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	fmt.Fprintf(c.opts.Progress, "onebox: "+format+"\n", args...)
}
