package meta

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Override is a knob set at run time, overriding the configuration file's
// value until it is reset (DEFAULT) or, when it has a lease, until the
// lease runs out without being renewed.
//
// Who set it and until when are kept with the value: a rolling update
// reads them to restore exactly what it found (an operator's override, or
// none, in which case it deletes its own rather than write the value back
// and shadow the next configuration change), and an orchestrator that died
// leaves nothing behind for longer than its lease.
type Override struct {
	Knob  string
	Value string
	// Owner is empty for an operator's remote command; a rolling update
	// sets "rolling-update <roll id>".
	Owner string
	// Expires is when the override lapses; zero for never. It is wall time,
	// stored in etcd, so that a new leader honours it: a TTL, not a lease
	// any decision depends on.
	Expires time.Time
}

// storedOverride is an override's etcd record. An override without owner
// and expiry is stored as the bare value, as before overrides had either.
type storedOverride struct {
	Value     string `json:"value"`
	Owner     string `json:"owner,omitempty"`
	ExpiresMS int64  `json:"expires_ms,omitempty"`
}

func encodeOverride(o Override) string {
	if o.Owner == "" && o.Expires.IsZero() {
		return o.Value
	}
	rec := storedOverride{Value: o.Value, Owner: o.Owner}
	if !o.Expires.IsZero() {
		rec.ExpiresMS = o.Expires.UnixMilli()
	}
	b, _ := json.Marshal(rec)
	return string(b)
}

func decodeOverride(name, stored string) Override {
	o := Override{Knob: name, Value: stored}
	if !strings.HasPrefix(stored, "{") {
		return o
	}
	var rec storedOverride
	if json.Unmarshal([]byte(stored), &rec) != nil {
		return o // taken as a bare value; Knobs.Set reports it unusable
	}
	o.Value, o.Owner = rec.Value, rec.Owner
	if rec.ExpiresMS > 0 {
		o.Expires = time.UnixMilli(rec.ExpiresMS)
	}
	return o
}

// KnobLease says who sets a knob and for how long; the zero value is an
// operator's override without expiry.
type KnobLease struct {
	Owner string
	TTL   time.Duration
}

// Overrides lists the knobs overriding the configuration file, by name.
// Only the leader knows them.
func (c *Controller) Overrides() ([]Override, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(c.overrides))
	slices.SortFunc(out, func(a, b Override) int { return strings.Compare(a.Knob, b.Knob) })
	return out, nil
}

// expireOverrides resets every override whose lease ran out, as a DEFAULT
// would, so an orchestrator that died mid-roll does not leave its knobs
// (re-replication held at 0, a one-hour window) for longer than its lease.
func (c *Controller) expireOverrides(ctx context.Context) {
	c.mu.Lock()
	if _, err := c.termLocked(); err != nil {
		c.mu.Unlock()
		return
	}
	now := c.clock.Now()
	var lapsed []Override
	for _, o := range c.overrides {
		if !o.Expires.IsZero() && !now.Before(o.Expires) {
			lapsed = append(lapsed, o)
		}
	}
	c.mu.Unlock()
	for _, o := range lapsed {
		if _, err := c.setKnobAs(ctx, o.Knob, "DEFAULT", KnobLease{}, &o); err != nil {
			c.log.Warn("resetting a lapsed knob override", "knob", o.Knob, "owner", o.Owner, "err", err)
			continue
		}
		c.log.Warn("knob override lapsed: its owner did not renew it; the configuration's value applies",
			"knob", o.Knob, "value", o.Value, "owner", o.Owner)
	}
}

// refreshOverrideGaugeLocked publishes the overrides as
// pegasus_meta_knob_override{knob,owner} = 1. c.mu must be held.
func (c *Controller) refreshOverrideGaugeLocked() {
	g := c.cfg.Metrics.KnobOverride
	g.Reset()
	for _, o := range c.overrides {
		owner := o.Owner
		if owner == "" {
			owner = "operator"
		}
		g.WithLabelValues(o.Knob, owner).Set(1)
	}
}

// loadOverrides turns the stored knobs into the planner's knobs and the
// override table, at the start of a term.
func (c *Controller) loadOverrides(stored map[string]string) (decide.Knobs, map[string]Override) {
	knobs := c.cfg.Knobs
	overrides := make(map[string]Override, len(stored))
	for name, raw := range stored {
		if c.loadStoredAllowList(name, raw) {
			continue // the white list is stored among the knobs, but is none
		}
		o := decodeOverride(name, raw)
		if err := knobs.Set(name, o.Value); err != nil {
			c.log.Warn("ignoring stored knob", "knob", name, "value", raw, "err", err)
			continue
		}
		overrides[name] = o
	}
	return knobs, overrides
}
