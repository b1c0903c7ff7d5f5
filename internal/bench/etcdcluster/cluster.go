package etcdcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/bench/scenario"
)

// Defaults of Options.
const (
	DefaultMembers      = 3
	DefaultReadyTimeout = time.Minute
	DefaultStopTimeout  = 15 * time.Second
)

const (
	// pollInterval paces every wait for a member or the cluster.
	pollInterval = 100 * time.Millisecond
	// probeTimeout bounds one status call, so that a member that accepts
	// connections but hangs cannot stall a wait past its deadline.
	probeTimeout = time.Second
)

// Options describe the cluster Start creates. Zero fields take defaults.
type Options struct {
	// Dir holds every member's directory; empty creates a temporary
	// directory that Close removes.
	Dir string
	// Binary is the pegasus binary whose `etcd` subcommand runs each
	// member; empty means this executable.
	Binary string
	// Members is the member count (DefaultMembers).
	Members int
	// Progress receives one line per member started or stopped; nil
	// discards them.
	Progress io.Writer
	// ReadyTimeout bounds the wait for a started member, or the new
	// cluster, to serve.
	ReadyTimeout time.Duration
	// StopTimeout is how long a member may take to exit after SIGTERM
	// before it gets SIGKILL.
	StopTimeout time.Duration
}

// Cluster is a running etcd cluster of `pegasus etcd` processes. Its
// methods are safe for concurrent use.
type Cluster struct {
	opts      Options
	removeDir string
	members   []*member
	// cli asks members for their status; it is not the benchmark's client.
	cli *clientv3.Client
}

var (
	_ scenario.Cluster      = (*Cluster)(nil)
	_ scenario.LeaderFinder = (*Cluster)(nil)
)

// member is one etcd process.
type member struct {
	name       string
	clientAddr string
	peerAddr   string
	dir        string // its own directory: data/ and <name>.log

	mu     sync.Mutex
	pid    int
	exited chan struct{} // closed when the running process ends; nil before the first start
}

// Start creates a new cluster in opts.Dir, starts every member and returns
// once all of them serve and agree on a leader. On error nothing is left
// running.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Members <= 0 {
		opts.Members = DefaultMembers
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	c := &Cluster{opts: opts}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.opts.Binary == "" {
		if c.opts.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("etcdcluster: %w", err)
		}
	}
	if c.opts.Dir == "" {
		if c.opts.Dir, err = os.MkdirTemp("", "pegasus-etcd-"); err != nil {
			return nil, fmt.Errorf("etcdcluster: %w", err)
		}
		c.removeDir = c.opts.Dir
	}
	addrs, err := pickPorts(2 * opts.Members)
	if err != nil {
		return nil, err
	}
	for i := range opts.Members {
		name := fmt.Sprintf("etcd%d", i+1)
		m := &member{name: name, clientAddr: addrs[2*i], peerAddr: addrs[2*i+1], dir: filepath.Join(c.opts.Dir, name)}
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return nil, fmt.Errorf("etcdcluster: %w", err)
		}
		c.members = append(c.members, m)
	}
	c.cli, err = clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints(),
		DialTimeout: probeTimeout,
		// The members' own logs tell what happens to them; the status
		// client's retries would only add noise.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcdcluster: %w", err)
	}
	// Members of a new cluster start together: none serves before a
	// quorum has joined.
	for _, m := range c.members {
		if err := c.spawn(m); err != nil {
			return nil, err
		}
	}
	readyCtx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	if err := c.WaitHealthy(readyCtx); err != nil {
		return nil, err
	}
	c.progress("etcd cluster ready: %s", strings.Join(c.Endpoints(), ","))
	return c, nil
}

// Endpoints returns the members' client URLs.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = "http://" + m.clientAddr
	}
	return eps
}

// Describe implements scenario.Cluster.
func (c *Cluster) Describe() string {
	return fmt.Sprintf("etcd: %d members (embedded etcd server, one process each)", len(c.members))
}

// Nodes implements scenario.Cluster: the member names for RoleEtcd.
func (c *Cluster) Nodes(role scenario.Role) []string {
	if role != scenario.RoleEtcd {
		return nil
	}
	names := make([]string, len(c.members))
	for i, m := range c.members {
		names[i] = m.name
	}
	return names
}

// Kill implements scenario.Cluster.
func (c *Cluster) Kill(_ context.Context, node string) error {
	m, err := c.member(node)
	if err != nil {
		return err
	}
	return c.terminate(m, syscall.SIGKILL)
}

// Stop implements scenario.Cluster.
func (c *Cluster) Stop(_ context.Context, node string) error {
	m, err := c.member(node)
	if err != nil {
		return err
	}
	return c.terminate(m, syscall.SIGTERM)
}

// Start implements scenario.Cluster: it starts the member unless it runs,
// and waits until the member answers with a leader known.
func (c *Cluster) Start(ctx context.Context, node string) error {
	m, err := c.member(node)
	if err != nil {
		return err
	}
	if !m.running() {
		if err := c.spawn(m); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	return c.waitFor(ctx, m.name+" serving", func(ctx context.Context) error {
		if !m.running() {
			return fmt.Errorf("%w: %s; see %s", ErrExited, m.name, m.logPath())
		}
		_, err := c.status(ctx, m)
		return err
	})
}

// WaitHealthy implements scenario.Cluster: every member runs, answers its
// status with no alarm, and names the same leader.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return c.waitFor(ctx, "cluster healthy", c.healthy)
}

// healthy checks the cluster once.
func (c *Cluster) healthy(ctx context.Context) error {
	var leader uint64
	for _, m := range c.members {
		if !m.running() {
			return fmt.Errorf("%w: %s is not running", ErrNotHealthy, m.name)
		}
		st, err := c.status(ctx, m)
		if err != nil {
			return err
		}
		if leader == 0 {
			leader = st.Leader
		} else if st.Leader != leader {
			return fmt.Errorf("%w: members disagree on the leader (%x, %x)", ErrNotHealthy, leader, st.Leader)
		}
	}
	return nil
}

// status asks one member for its status: it must know a leader and report
// no error (alarms).
func (c *Cluster) status(ctx context.Context, m *member) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := c.cli.Status(ctx, "http://"+m.clientAddr)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrNotHealthy, m.name, err)
	case st.Leader == 0:
		return nil, fmt.Errorf("%w: %s knows no leader", ErrNotHealthy, m.name)
	case len(st.Errors) > 0:
		return nil, fmt.Errorf("%w: %s: %s", ErrNotHealthy, m.name, strings.Join(st.Errors, "; "))
	}
	return st, nil
}

// Leader implements scenario.LeaderFinder for RoleEtcd.
func (c *Cluster) Leader(ctx context.Context, role scenario.Role) (string, error) {
	if role != scenario.RoleEtcd {
		return "", fmt.Errorf("%w: an etcd cluster has no %s role", scenario.ErrUnsupported, role)
	}
	for _, m := range c.members {
		st, err := c.status(ctx, m)
		if err != nil {
			continue
		}
		if st.Header.GetMemberId() == st.Leader {
			return m.name, nil
		}
	}
	return "", fmt.Errorf("%w: no member says it leads", ErrNotHealthy)
}

// Close stops every member and, when Start created the directory, removes
// it.
func (c *Cluster) Close() error {
	var errs []error
	for _, m := range c.members {
		errs = append(errs, c.terminate(m, syscall.SIGTERM))
	}
	if c.cli != nil {
		errs = append(errs, c.cli.Close())
	}
	if c.removeDir != "" {
		errs = append(errs, os.RemoveAll(c.removeDir))
	}
	return errors.Join(errs...)
}

func (c *Cluster) member(name string) (*member, error) {
	i := slices.IndexFunc(c.members, func(m *member) bool { return m.name == name })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q (members: %s)", ErrUnknownMember, name, strings.Join(c.Nodes(scenario.RoleEtcd), ", "))
	}
	return c.members[i], nil
}

// initialCluster is etcd's name=peerURL,... list of every member.
func (c *Cluster) initialCluster() string {
	parts := make([]string, len(c.members))
	for i, m := range c.members {
		parts[i] = m.name + "=http://" + m.peerAddr
	}
	return strings.Join(parts, ",")
}

// spawn starts m's process in its own process group (so that a Ctrl-C
// reaches the benchmark, which then stops the members in order), with its
// output appended to its log.
func (c *Cluster) spawn(m *member) error {
	logf, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("etcdcluster: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(c.opts.Binary, "etcd",
		"--name", m.name,
		"--data-dir", filepath.Join(m.dir, "data"),
		"--client-url", "http://"+m.clientAddr,
		"--peer-url", "http://"+m.peerAddr,
		"--initial-cluster", c.initialCluster(),
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("etcdcluster: starting %s: %w", m.name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	m.mu.Lock()
	m.pid, m.exited = cmd.Process.Pid, exited
	m.mu.Unlock()
	c.progress("started %s (pid %d) at %s", m.name, cmd.Process.Pid, m.clientAddr)
	return nil
}

// terminate sends sig to m's process group and waits until it is gone;
// after SIGTERM it escalates to SIGKILL when the stop timeout passes.
func (c *Cluster) terminate(m *member, sig syscall.Signal) error {
	m.mu.Lock()
	pid, exited := m.pid, m.exited
	m.mu.Unlock()
	if !m.running() {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("etcdcluster: signalling %s: %w", m.name, err)
	}
	wait := c.opts.StopTimeout
	if sig == syscall.SIGKILL {
		wait = 10 * time.Second
	}
	select {
	case <-exited:
		verb := "stopped"
		if sig == syscall.SIGKILL {
			verb = "killed"
		}
		c.progress("%s %s (pid %d)", verb, m.name, pid)
		return nil
	case <-time.After(wait):
	}
	if sig == syscall.SIGKILL {
		return fmt.Errorf("etcdcluster: %s (pid %d) survived SIGKILL", m.name, pid)
	}
	c.progress("%s (pid %d) still running after %s, killing it", m.name, pid, wait)
	return c.terminate(m, syscall.SIGKILL)
}

// running reports whether m's process runs.
func (m *member) running() bool {
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (m *member) logPath() string { return filepath.Join(m.dir, m.name+".log") }

// waitFor polls check until it passes or ctx ends.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		if errors.Is(last, ErrExited) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w (last check: %v)", ErrNotHealthy, what, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) progress(format string, args ...any) {
	fmt.Fprintf(c.opts.Progress, "etcd: "+format+"\n", args...)
}

// pickPorts returns n distinct free loopback addresses, holding every
// listener until all are chosen so that none is handed out twice.
func pickPorts(n int) ([]string, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdcluster: picking a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
