package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Admission: which replica servers may join.
//
// Pegasus' replica server white list ([meta_server] enable_white_list and
// replica_white_list, queried with the fd.allow_list remote command): with
// it enabled, beacons of servers not on the list are refused before the
// failure detector sees them, so such a server never gets a partition and
// never counts towards the live percentage. Here the list also changes at
// run time (fd.allow_list add|remove|set|enable|disable, stored in etcd so
// a new leader keeps it); a server taken off the list is refused from its
// next beacon, dies after the grace period like any silent server, loses
// its roles to the cure, and is forgotten once it holds none.
//
// Refused senders are remembered for fd.allow_list, at most
// maxRefusedRecords of them, the oldest forgotten first: 20,000 fake
// servers beaconing once each (issue 16, finding 3) cost a bounded table,
// not 20,000 node records that freeze the meta once they die.

// maxRefusedRecords bounds the refused senders remembered.
const maxRefusedRecords = 256

// allowListKnob is the name the white list is stored under among the
// knobs in etcd.
const allowListKnob = "fd.allow_list"

// AdmissionConfig is the white list of the configuration file.
type AdmissionConfig struct {
	Enabled bool
	Nodes   []string
}

// admission is the white list in force and the refused senders.
type admission struct {
	enabled bool
	allow   map[string]bool
	refused map[string]*refusedSender
	// lastWarn and unlogged rate-limit the refusal warnings: a flood of
	// fake senders must not become a flood of log lines.
	lastWarn time.Time
	unlogged int
}

// refusalWarnInterval is the least time between two warnings of refused
// beacons; the refusals in between are counted in the next warning (and
// every one in the refused_beacons metric).
const refusalWarnInterval = time.Second

type refusedSender struct {
	First, Last time.Time
	Count       int
}

func (a *admission) set(cfg AdmissionConfig) {
	a.enabled = cfg.Enabled
	a.allow = make(map[string]bool, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		a.allow[n] = true
	}
}

func (a *admission) config() AdmissionConfig {
	nodes := make([]string, 0, len(a.allow))
	for n := range a.allow {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	return AdmissionConfig{Enabled: a.enabled, Nodes: nodes}
}

func (a *admission) admits(node string) bool { return !a.enabled || a.allow[node] }

// refuseUnadmittedLocked returns nil for a node the white list admits; for
// another it records the refusal and returns why.
func (c *Controller) refuseUnadmittedLocked(node string, now time.Time) error {
	a := &c.guard.admission
	if a.admits(node) {
		return nil
	}
	if a.refused == nil {
		a.refused = make(map[string]*refusedSender)
	}
	r := a.refused[node]
	if r == nil {
		if len(a.refused) >= maxRefusedRecords {
			oldest := ""
			for n, x := range a.refused {
				if oldest == "" || x.Last.Before(a.refused[oldest].Last) {
					oldest = n
				}
			}
			delete(a.refused, oldest)
		}
		r = &refusedSender{First: now}
		a.refused[node] = r
		if now.Sub(a.lastWarn) >= refusalWarnInterval {
			c.log.Warn("beacon refused: replica server not on the white list (enable_white_list)", "node", node,
				"other_new_senders_refused_since_last_warning", a.unlogged)
			a.lastWarn, a.unlogged = now, 0
		} else {
			a.unlogged++
		}
	}
	r.Last = now
	r.Count++
	c.cfg.Metrics.RefusedBeacons.WithLabelValues("not_admitted").Inc()
	return fmt.Errorf("%w: %s is not on the replica server white list", ErrNotAdmitted, node)
}

// logBeaconFromFuture reports a beacon refused for its start time.
func (c *Controller) logBeaconFromFuture(node string, err error) {
	c.cfg.Metrics.RefusedBeacons.WithLabelValues("from_future").Inc()
	c.log.Warn("beacon refused", "node", node, "err", err)
}

// collectUnadmittedLocked forgets the nodes the white list no longer
// admits once they are dead and hold no role, so that they stop counting
// towards the live percentage. Called every round.
func (c *Controller) collectUnadmittedLocked() {
	a := &c.guard.admission
	if !a.enabled {
		return
	}
	for _, st := range c.fd.Nodes() {
		if a.admits(st.Address) || st.Alive || c.cache.layout.Load(st.Address).Roles() > 0 {
			continue
		}
		if c.fd.Forget(st.Address) {
			delete(c.senders, st.Address)
			c.log.Info("forgot a replica server the white list no longer admits", "node", st.Address)
		}
	}
}

// allowListJSON is fd.allow_list's answer.
type allowListJSON struct {
	Enabled bool                      `json:"enable_white_list"`
	Nodes   []string                  `json:"replica_white_list"`
	Refused map[string]*refusedSender `json:"refused,omitempty"`
}

// allowListCommand is the fd.allow_list remote command: no argument
// queries; enable, disable, add NODE..., remove NODE..., set NODE,...
// change the list (stored before it takes effect).
func (c *Controller) allowListCommand(ctx context.Context, args []string) (string, error) {
	c.mu.Lock()
	cur := c.guard.admission.config()
	c.mu.Unlock()
	if len(args) > 0 {
		next, err := editAllowList(cur, args)
		if err != nil {
			return "", err
		}
		if err := c.storeAllowList(ctx, next); err != nil {
			return "", err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &c.guard.admission
	out := allowListJSON{Enabled: a.enabled, Nodes: a.config().Nodes, Refused: a.refused}
	b, _ := json.Marshal(out)
	return string(b), nil
}

func editAllowList(cur AdmissionConfig, args []string) (AdmissionConfig, error) {
	nodes := func() ([]string, error) {
		var out []string
		for _, a := range args[1:] {
			for _, n := range strings.Split(a, ",") {
				if n = strings.TrimSpace(n); n == "" {
					continue
				}
				if i := strings.LastIndexByte(n, ':'); i <= 0 || i == len(n)-1 {
					return nil, fmt.Errorf("%w: %q is not host:port", ErrInvalidArgument, n)
				}
				out = append(out, n)
			}
		}
		return out, nil
	}
	next := AdmissionConfig{Enabled: cur.Enabled, Nodes: slices.Clone(cur.Nodes)}
	switch args[0] {
	case "enable", "disable":
		if len(args) != 1 {
			return cur, fmt.Errorf("%w: %s takes no argument", ErrInvalidArgument, args[0])
		}
		next.Enabled = args[0] == "enable"
		if next.Enabled && len(next.Nodes) == 0 {
			return cur, fmt.Errorf("%w: enabling an empty white list would refuse every replica server", ErrInvalidArgument)
		}
	case "add", "remove", "set":
		ns, err := nodes()
		if err != nil {
			return cur, err
		}
		switch args[0] {
		case "add":
			next.Nodes = append(next.Nodes, ns...)
		case "remove":
			next.Nodes = slices.DeleteFunc(next.Nodes, func(n string) bool { return slices.Contains(ns, n) })
		case "set":
			next.Nodes = ns
		}
		slices.Sort(next.Nodes)
		next.Nodes = slices.Compact(next.Nodes)
		if next.Enabled && len(next.Nodes) == 0 {
			return cur, fmt.Errorf("%w: an enabled white list must admit at least one replica server", ErrInvalidArgument)
		}
	default:
		return cur, fmt.Errorf("%w: fd.allow_list [enable | disable | add NODE... | remove NODE... | set NODE,...]", ErrInvalidArgument)
	}
	return next, nil
}

// storeAllowList writes the list to etcd, then applies it.
func (c *Controller) storeAllowList(ctx context.Context, next AdmissionConfig) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	c.mu.Lock()
	t, err := c.termLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	b, _ := json.Marshal(next)
	wctx, cancel := t.writeCtx()
	defer cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.store.SetKnob(wctx, allowListKnob, string(b)); err != nil {
		return c.storeErr(t, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term != t {
		return fmt.Errorf("%w: while setting %s", ErrLostLeadership, allowListKnob)
	}
	c.guard.admission.set(next)
	c.log.Info("replica server white list set", "enabled", next.Enabled, "nodes", next.Nodes)
	return nil
}

// loadStoredAllowList applies a white list stored in etcd (BecomeLeader).
// It reports whether name is the white list's knob.
func (c *Controller) loadStoredAllowList(name, value string) bool {
	if name != allowListKnob {
		return false
	}
	var stored AdmissionConfig
	if err := json.Unmarshal([]byte(value), &stored); err != nil {
		c.log.Warn("ignoring a stored white list that does not decode", "value", value, "err", err)
		return true
	}
	c.mu.Lock()
	c.guard.admission.set(stored)
	c.mu.Unlock()
	return true
}
