package oneboxcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/replica"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Cluster is a onebox as a scenario.Cluster. Nodes are the onebox's
// process names (meta1, replica2, ...).
type Cluster struct {
	ob       *onebox.Cluster
	conns    *dial.Conns
	table    string
	binary   string
	progress io.Writer
	// counterTable is the benchmark table for Counters (SetCounterTable).
	counterTable *client.Table
	// target is the load's target (LoadTarget); side, the clients
	// ReadFrom opened.
	target *loadTarget
	side   sideClients

	mu     sync.Mutex
	frozen map[string]int  // node -> PID frozen
	cut    map[string]bool // nodes cut off the network
}

var (
	_ scenario.Cluster        = (*Cluster)(nil)
	_ scenario.Freezer        = (*Cluster)(nil)
	_ scenario.NetworkCutter  = (*Cluster)(nil)
	_ scenario.LeaderFinder   = (*Cluster)(nil)
	_ scenario.PrimaryFinder  = (*Cluster)(nil)
	_ scenario.Roller         = (*Cluster)(nil)
	_ scenario.MemberFinder   = (*Cluster)(nil)
	_ scenario.ClockStepper   = (*Cluster)(nil)
	_ scenario.CounterCluster = (*Cluster)(nil)
	_ scenario.SideReader     = (*Cluster)(nil)
	_ scenario.Migrator       = (*Cluster)(nil)
)

// New returns the scenario view of ob. table is the benchmark table, whose
// primaries Primary counts; binary is the pegasus binary that runs
// `rolling-update`; progress receives the rolling update's output (nil
// discards it). The caller keeps ownership of ob.
func New(ob *onebox.Cluster, table, binary string, progress io.Writer) *Cluster {
	if progress == nil {
		progress = io.Discard
	}
	return &Cluster{
		ob:       ob,
		conns:    dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()}),
		table:    table,
		binary:   binary,
		progress: progress,
		frozen:   make(map[string]int),
		cut:      make(map[string]bool),
	}
}

// Close thaws any process still frozen, heals any node still cut off and
// releases the admin connections and the clients ReadFrom opened.
func (c *Cluster) Close() error {
	c.mu.Lock()
	frozen, cut := c.frozen, c.cut
	c.frozen, c.cut = make(map[string]int), make(map[string]bool)
	c.mu.Unlock()
	var errs []error
	for _, pid := range frozen {
		errs = append(errs, signalGroup(pid, syscall.SIGCONT))
	}
	for node := range cut {
		errs = append(errs, c.ob.Heal(node))
	}
	errs = append(errs, c.side.close(), c.conns.Close())
	return errors.Join(errs...)
}

// Describe implements scenario.Cluster.
func (c *Cluster) Describe() string {
	return fmt.Sprintf("pegasus onebox: %d meta servers, %d replica servers",
		len(c.Nodes(scenario.RoleMeta)), len(c.Nodes(scenario.RoleReplica)))
}

// Nodes implements scenario.Cluster.
func (c *Cluster) Nodes(role scenario.Role) []string {
	procs, err := c.ob.Status()
	if err != nil {
		return nil
	}
	var names []string
	for _, p := range procs {
		if string(p.Role) == string(role) {
			names = append(names, p.Name)
		}
	}
	return names
}

// Kill implements scenario.Cluster.
func (c *Cluster) Kill(_ context.Context, node string) error {
	c.forgetFrozen(node)
	return c.ob.Kill(node)
}

// Stop implements scenario.Cluster.
func (c *Cluster) Stop(_ context.Context, node string) error {
	// A frozen process cannot act on SIGTERM: thaw it first.
	if err := c.Thaw(context.Background(), node); err != nil {
		return err
	}
	return c.ob.Stop(node)
}

// Start implements scenario.Cluster.
func (c *Cluster) Start(ctx context.Context, node string) error {
	return c.ob.StartNode(ctx, node)
}

// WaitHealthy implements scenario.Cluster: every process runs and every
// available table is fully healthy. A process that is not running fails
// at once: it will not come back by waiting.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	procs, err := c.ob.Status()
	if err != nil {
		return err
	}
	var down []string
	for _, p := range procs {
		if !p.Alive {
			down = append(down, p.Name)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%w: %s", ErrNotHealthy, strings.Join(down, ", "))
	}
	return c.ob.WaitHealthy(ctx)
}

// Freeze implements scenario.Freezer with SIGSTOP to the node's process
// group.
func (c *Cluster) Freeze(_ context.Context, node string) error {
	p, err := c.process(node)
	if err != nil {
		return err
	}
	if !p.Alive {
		return fmt.Errorf("%w: %s", ErrNotHealthy, p.Name)
	}
	c.mu.Lock()
	c.frozen[p.Name] = p.PID
	c.mu.Unlock()
	return signalGroup(p.PID, syscall.SIGSTOP)
}

// Thaw implements scenario.Freezer with SIGCONT. Thawing a node that is
// not frozen does nothing.
func (c *Cluster) Thaw(_ context.Context, node string) error {
	p, err := c.process(node)
	if err != nil {
		return err
	}
	c.mu.Lock()
	pid, ok := c.frozen[p.Name]
	delete(c.frozen, p.Name)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return signalGroup(pid, syscall.SIGCONT)
}

// CutMethod implements scenario.NetworkCutter: a onebox in netns mode can
// cut a replica server off; a loopback one cannot.
func (c *Cluster) CutMethod() (string, error) {
	if mode := c.ob.Network(); mode != onebox.NetworkNetNS {
		return "", fmt.Errorf("%w: the onebox's servers share the %s network; network mode %s gives each replica server its own",
			scenario.ErrUnsupported, mode, onebox.NetworkNetNS)
	}
	return "the host end of its veth pair is set down, which also drops the carrier of the end in its network " +
		"namespace: packets are dropped both ways and nothing is answered, as behind a failed switch port", nil
}

// Cut implements scenario.NetworkCutter (onebox.Cluster.Cut).
func (c *Cluster) Cut(_ context.Context, node string) error {
	p, err := c.process(node)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cut[p.Name] = true
	c.mu.Unlock()
	return c.ob.Cut(p.Name)
}

// Heal implements scenario.NetworkCutter. Healing a node that is not cut
// does nothing.
func (c *Cluster) Heal(_ context.Context, node string) error {
	p, err := c.process(node)
	if err != nil {
		return err
	}
	c.mu.Lock()
	wasCut := c.cut[p.Name]
	delete(c.cut, p.Name)
	c.mu.Unlock()
	if !wasCut {
		return nil
	}
	return c.ob.Heal(p.Name)
}

// forgetFrozen drops node from the frozen set (it is being killed; SIGKILL
// works on a stopped process).
func (c *Cluster) forgetFrozen(node string) {
	if p, err := c.process(node); err == nil {
		c.mu.Lock()
		delete(c.frozen, p.Name)
		c.mu.Unlock()
	}
}

// Leader implements scenario.LeaderFinder for the meta servers.
func (c *Cluster) Leader(ctx context.Context, role scenario.Role) (string, error) {
	if role != scenario.RoleMeta {
		return "", fmt.Errorf("%w: a onebox elects leaders among meta servers only, not %s", scenario.ErrUnsupported, role)
	}
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil {
		return "", fmt.Errorf("%w: cluster_info: %w", ErrAdmin, err)
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return "", fmt.Errorf("%w: cluster_info: %s %s", ErrAdmin, code, resp.GetError().GetMessage())
	}
	p, err := c.process(resp.GetLeader())
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// Primary implements scenario.PrimaryFinder: the replica server holding
// the most primaries of the benchmark table (the first by name on a tie).
func (c *Cluster) Primary(ctx context.Context) (string, int, error) {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: c.table})
	})
	if err != nil {
		return "", 0, fmt.Errorf("%w: query config of %q: %w", ErrAdmin, c.table, err)
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return "", 0, fmt.Errorf("%w: query config of %q: %s %s", ErrAdmin, c.table, code, resp.GetError().GetMessage())
	}
	counts := make(map[string]int)
	for _, pc := range resp.GetPartitions() {
		if addr := pc.GetPrimary(); addr != "" {
			counts[addr]++
		}
	}
	return busiest(counts, c.process)
}

// busiest returns the process of the address with the highest count,
// breaking ties by process name so that the choice is reproducible.
func busiest(counts map[string]int, lookup func(string) (onebox.ProcessStatus, error)) (string, int, error) {
	var best string
	bestN := 0
	for addr, n := range counts {
		p, err := lookup(addr)
		if err != nil {
			return "", 0, err
		}
		if n > bestN || (n == bestN && p.Name < best) {
			best, bestN = p.Name, n
		}
	}
	if bestN == 0 {
		return "", 0, fmt.Errorf("%w: no partition has a primary", scenario.ErrNoNode)
	}
	return best, bestN, nil
}

// RollingUpdate implements scenario.Roller by running `pegasus
// rolling-update` against the onebox, as an operator would.
func (c *Cluster) RollingUpdate(ctx context.Context, mode plan.Mode) error {
	args := []string{"rolling-update", "--control", "onebox:" + c.ob.Dir(), "--mode", string(mode), "--yes"}
	cmd := exec.CommandContext(ctx, c.binary, args...)
	out := &prefixWriter{w: c.progress, prefix: "rolling-update: "}
	cmd.Stdout, cmd.Stderr = out, out
	// An interrupted roll is left for `rolling-update resume`/`abort`:
	// SIGTERM lets the orchestrator store its state and release its lock.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	err := cmd.Run()
	out.flush()
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrRollingUpdate, c.binary, strings.Join(args, " "), err)
	}
	return nil
}

// process finds a process by name or address.
func (c *Cluster) process(node string) (onebox.ProcessStatus, error) {
	procs, err := c.ob.Status()
	if err != nil {
		return onebox.ProcessStatus{}, err
	}
	i := slices.IndexFunc(procs, func(p onebox.ProcessStatus) bool {
		return node != "" && (p.Name == node || p.Address == node)
	})
	if i < 0 {
		return onebox.ProcessStatus{}, fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	return procs[i], nil
}

// signalGroup signals the process group pid leads (onebox starts every
// process as a group leader); a group already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Members implements scenario.MemberFinder: partition 0 of the benchmark
// table as the meta leader records it, by process name.
func (c *Cluster) Members(ctx context.Context) (scenario.Members, error) {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: c.table, PartitionIndices: []int32{0}})
	})
	if err != nil {
		return scenario.Members{}, fmt.Errorf("%w: query config of %q: %w", ErrAdmin, c.table, err)
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK || len(resp.GetPartitions()) != 1 {
		return scenario.Members{}, fmt.Errorf("%w: query config of %q: %s %s", ErrAdmin, c.table, code, resp.GetError().GetMessage())
	}
	pc := resp.GetPartitions()[0]
	name := func(addr string) (string, error) {
		p, err := c.process(addr)
		return p.Name, err
	}
	m := scenario.Members{Ballot: pc.GetBallot()}
	if pc.GetPrimary() != "" {
		if m.Primary, err = name(pc.GetPrimary()); err != nil {
			return scenario.Members{}, err
		}
	}
	for _, s := range pc.GetSecondaries() {
		n, err := name(s)
		if err != nil {
			return scenario.Members{}, err
		}
		m.Secondaries = append(m.Secondaries, n)
	}
	return m, nil
}

// wallClockFile is the offset file name every replica server of a onebox
// launched with Setup.WallClockHook reads, in its own directory.
const wallClockFile = "wall_clock_offset"

// StepClock implements scenario.ClockStepper by writing the offset to the
// node's offset file (replica.WallClockOffsetEnv); the server picks it up
// within 100 ms. It fails unless the onebox was launched with the hook.
func (c *Cluster) StepClock(_ context.Context, node string, offset time.Duration) error {
	if os.Getenv(replica.WallClockOffsetEnv) != wallClockFile {
		return fmt.Errorf("%w: the onebox was not launched with the wall-clock hook", scenario.ErrUnsupported)
	}
	p, err := c.process(node)
	if err != nil {
		return err
	}
	path := filepath.Join(c.ob.Dir(), p.Dir, wallClockFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(offset.String()+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
