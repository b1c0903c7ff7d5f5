package onebox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// killWait bounds the wait for a process to vanish after SIGKILL.
const killWait = 5 * time.Second

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
