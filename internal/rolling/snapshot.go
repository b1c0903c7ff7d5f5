package rolling

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/version"
)

// TakeSnapshot gathers everything plan.Build reads: cluster_info, every
// meta server's own answer, `nodes -d` and `ls -d`, the knobs the roll
// changes, and the collector's availability when there is a collector.
// newVersion is the protocol version of the binary to install ("" when
// not upgrading). ctl, when it is a VersionReporter, supplies the
// collector's version if the collector does not report it.
func TakeSnapshot(ctx context.Context, c Cluster, col Collector, ctl NodeControl, newVersion string) (plan.Snapshot, ClusterInfo, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return plan.Snapshot{}, ClusterInfo{}, err
	}
	metas, err := c.Metas(ctx)
	if err != nil {
		return plan.Snapshot{}, info, err
	}
	view, err := c.View(ctx)
	if err != nil {
		return plan.Snapshot{}, info, err
	}
	parts, err := c.Partitions(ctx)
	if err != nil {
		return plan.Snapshot{}, info, err
	}
	s := plan.Snapshot{MetaLevel: info.MetaLevel, NewVersion: newVersion, Tables: view.Tables,
		Partitions: parts, Knobs: make(map[string]plan.KnobState)}

	s.Cluster = info.Name
	own := make(map[string]plan.MetaStatus)
	for _, m := range metas {
		own[m.Node] = m
	}
	for _, m := range info.Metas {
		s.Metas = append(s.Metas, plan.MetaServer{Node: m.Node, Alive: own[m.Node].Alive,
			Leader: m.Node == info.Leader, Version: m.Protocol, EmbeddedEtcd: own[m.Node].EmbeddedEtcd,
			Unregistered: own[m.Node].Alive && !own[m.Node].Registered})
	}
	versions := make(map[string]string)
	for _, r := range info.Replicas {
		versions[r.Node] = r.Protocol
	}
	for _, n := range view.Nodes {
		s.Replicas = append(s.Replicas, plan.ReplicaServer{Node: n.Node, Alive: n.Alive,
			Primaries: n.Primaries, Secondaries: n.Secondaries, Version: versions[n.Node], Zone: n.Zone})
	}
	// Each knob with whether, and by whom, it is overridden: the plan puts
	// back an override it found and deletes its own otherwise. A meta
	// server too old to report overrides reports none at all (a nil map):
	// its knobs are then reset to DEFAULT, as the Pegasus guide does.
	if info.Overrides != nil {
		for _, k := range []string{plan.KnobAssignDelay, plan.KnobAddSecondaryMax} {
			v, err := c.Knob(ctx, k)
			if err != nil {
				continue
			}
			o, over := info.Overrides[k]
			s.Knobs[k] = plan.KnobState{Value: v, Overridden: over, Owner: o.Owner}
		}
		o, over := info.Overrides[MetaLevelKnob]
		s.Knobs[plan.KnobMetaLevel] = plan.KnobState{Value: strings.TrimPrefix(info.MetaLevel, "fl_"), Overridden: over, Owner: o.Owner}
	}
	if col != nil {
		cs := &plan.CollectorServer{Node: col.Node()}
		if st, err := col.Status(ctx); err == nil && st.Alive {
			cs.Alive = true
			a := st.Availability
			s.Availability = &a
		}
		if v, err := col.Version(ctx); err == nil {
			cs.Version = v
		} else if vr, ok := ctl.(VersionReporter); ok {
			if v, err := vr.Version(ctx, Target{Role: plan.RoleCollector, Node: cs.Node}); err == nil {
				cs.Version = v
			}
		}
		s.Collector = cs
	}
	return s, info, nil
}

// BinaryVersion runs `<binary> version` and returns the protocol version it
// prints, the version the plan checks against every running server before
// anything is touched.
func BinaryVersion(ctx context.Context, binary string) (string, error) {
	p, _, err := BinaryInfo(ctx, binary)
	return p, err
}

// BinaryInfo runs `<binary> version` and returns the protocol version and
// the on-disk formats it prints. A binary too old to print formats
// returns none (nil): unknown.
func BinaryInfo(ctx context.Context, binary string) (string, []version.Format, error) {
	out, err := exec.CommandContext(ctx, binary, "version").Output()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s version: %w", ErrBinaryVersion, binary, err)
	}
	var protocol string
	var formats []version.Format
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "protocol":
			p, err := version.ParseProtocol(value)
			if err != nil {
				return "", nil, fmt.Errorf("%w: %s: %w", ErrBinaryVersion, binary, err)
			}
			protocol = p.String()
		case "format":
			f, err := version.ParseFormat(value)
			if err != nil {
				return "", nil, fmt.Errorf("%w: %s: %w", ErrBinaryVersion, binary, err)
			}
			formats = append(formats, f)
		}
	}
	if protocol == "" {
		return "", nil, fmt.Errorf("%w: %s version printed no protocol line", ErrBinaryVersion, binary)
	}
	return protocol, formats, nil
}
