package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// remoteKnobs are the knobs with a remote command, as Pegasus names them,
// with the usage `help` prints. The level has its own RPC (MetaLevel).
var remoteKnobs = []struct {
	name, usage string
}{
	{decide.KnobAssignDelayMs, "[num | DEFAULT]: how long a partition missing a secondary waits for the dropped node before copying elsewhere (replica_assign_delay_ms_for_dropouts)"},
	{decide.KnobAddSecondaryMaxCountForOneNode, "[num | DEFAULT]: learners in flight per node; 0 holds back re-adding drained nodes, other repairs go on one per node (add_secondary_max_count_for_one_node)"},
	{decide.KnobLivePercentage, "[num | DEFAULT]: freeze when fewer than this percentage of replica servers are alive (node_live_percentage_threshold_for_update)"},
}

// RemoteCommand runs a meta server remote command. Knob commands take no
// argument (query), a value (set) or DEFAULT (the configuration file's
// value), and answer as current Pegasus does, one JSON object:
// {"error":"ok","<knob>":"<value>"}. `help` lists the commands.
//
// A set is stored in etcd before it takes effect, so a new leader keeps
// it; DEFAULT deletes the stored value. lease says who sets it and for how
// long (see Override); the zero lease is an operator's lasting override.
func (c *Controller) RemoteCommand(ctx context.Context, command string, args []string, lease KnobLease) (string, error) {
	if _, err := c.currentTerm(); err != nil {
		return "", err
	}
	if command == "help" {
		var b strings.Builder
		b.WriteString("help: this list\n")
		for _, k := range remoteKnobs {
			fmt.Fprintf(&b, "%s %s\n", k.name, k.usage)
		}
		b.WriteString("fd.allow_list [enable | disable | add NODE... | remove NODE... | set NODE,...]: the replica server white list (enable_white_list, replica_white_list)\n")
		b.WriteString("meta.repair_ballot [APP_ID.PIDX...]: rewrite partitions a replica reports at a ballot above the record (all such partitions when none named)\n")
		return b.String(), nil
	}
	switch command {
	case allowListKnob:
		return c.allowListCommand(ctx, args)
	case "meta.repair_ballot":
		return c.repairBallot(ctx, args)
	}
	known := false
	for _, k := range remoteKnobs {
		known = known || k.name == command
	}
	if !known {
		err := fmt.Errorf("%w: %q (try help)", ErrUnknownCommand, command)
		return knobReply(command, "", err), err
	}
	switch len(args) {
	case 0:
		c.mu.Lock()
		value, err := c.knobLocked(command)
		c.mu.Unlock()
		return knobReply(command, value, err), err
	case 1:
		if _, err := c.setKnobAs(ctx, command, args[0], lease, nil); err != nil {
			return knobReply(command, "", err), err
		}
		c.mu.Lock()
		value, err := c.knobLocked(command)
		c.mu.Unlock()
		return knobReply(command, value, err), err
	}
	err := fmt.Errorf("%w: %s takes one argument, got %d", ErrInvalidArgument, command, len(args))
	return knobReply(command, "", err), err
}

func (c *Controller) currentTerm() (*term, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.termLocked()
}

func (c *Controller) knobLocked(name string) (string, error) {
	if _, err := c.termLocked(); err != nil {
		return "", err
	}
	return c.planner.Knobs().Get(name)
}

// knobReply renders a knob command's answer as Pegasus does.
func knobReply(name, value string, err error) string {
	m := map[string]string{"error": "ok"}
	if err != nil {
		m["error"] = "ERR: " + err.Error()
	} else {
		m[name] = value
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// setKnobAs validates, stores and then applies a knob, returning the level
// before the change (for MetaLevel). "DEFAULT" means the configuration
// file's value and deletes the override. With only set, the change is made
// only while the override is still exactly *only (a lapse racing a
// renewal must not undo the renewal).
func (c *Controller) setKnobAs(ctx context.Context, name, value string, lease KnobLease, only *Override) (decide.Level, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if lease.TTL < 0 {
		return 0, fmt.Errorf("%w: negative lease for %s", ErrInvalidArgument, name)
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if only != nil && c.overrides[name] != *only {
		c.mu.Unlock()
		return 0, nil
	}
	knobs := c.planner.Knobs()
	oldLevel := knobs.Level
	now := c.clock.Now()
	c.mu.Unlock()

	reset := strings.TrimSpace(value) == "DEFAULT"
	if reset {
		if value, err = c.cfg.Knobs.Get(name); err != nil {
			return 0, err
		}
	}
	if err := knobs.Set(name, value); err != nil {
		return 0, err
	}
	o := Override{Knob: name, Owner: lease.Owner}
	if !reset {
		// Store the canonical form (a level by name).
		o.Value, _ = knobs.Get(name)
		if lease.TTL > 0 {
			o.Expires = now.Add(lease.TTL)
		}
	}
	stored := ""
	if !reset {
		stored = encodeOverride(o)
	}
	wctx, cancel := t.writeCtx()
	defer cancel()
	if err := t.store.SetKnob(wctx, name, stored); err != nil {
		return 0, c.storeErr(t, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term != t {
		return 0, fmt.Errorf("%w: while setting %s", ErrLostLeadership, name)
	}
	if err := c.planner.SetKnob(name, value); err != nil {
		return 0, err // validated above; cannot happen
	}
	if reset {
		delete(c.overrides, name)
	} else {
		c.overrides[name] = o
	}
	c.refreshOverrideGaugeLocked()
	c.log.Info("knob set", "knob", name, "value", value, "override", !reset, "owner", lease.Owner, "lease", lease.TTL)
	return oldLevel, nil
}
