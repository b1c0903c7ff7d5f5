package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSnapshot is a healthy cluster: two meta servers (m1 leads), three
// replica servers, a collector, all on protocol 1.0.
func testSnapshot() Snapshot {
	avail := 1.0
	return Snapshot{
		Metas: []MetaServer{
			{Node: "m1", Alive: true, Leader: true, Version: "1.0"},
			{Node: "m2", Alive: true, Version: "1.0"},
		},
		Replicas: []ReplicaServer{
			{Node: "r1", Alive: true, Primaries: 4, Secondaries: 8, Version: "1.0"},
			{Node: "r2", Alive: true, Primaries: 4, Secondaries: 8, Version: "1.0"},
			{Node: "r3", Alive: true, Primaries: 4, Secondaries: 8, Version: "1.0"},
		},
		Collector:    &CollectorServer{Node: "c1", Alive: true, Version: "1.0"},
		Tables:       []TableHealth{{AppID: 1, Name: "temp", PartitionCount: 12, FullyHealthy: 12}},
		MetaLevel:    "fl_lively",
		NewVersion:   "1.1",
		Availability: &avail,
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Snapshot, *Options)
		want   error
		detail string // a substring of the message
	}{
		{"no meta server", func(s *Snapshot, _ *Options) { s.Metas = nil }, ErrInvalidSnapshot, "no meta server"},
		{"duplicate node", func(s *Snapshot, _ *Options) { s.Replicas[1].Node = "r1" }, ErrInvalidSnapshot, "r1 listed twice"},
		{"meta and replica share an address", func(s *Snapshot, _ *Options) { s.Replicas[0].Node = "m2" }, ErrInvalidSnapshot, "m2 listed twice"},
		{"empty address", func(s *Snapshot, _ *Options) { s.Collector.Node = "" }, ErrInvalidSnapshot, "empty node address"},
		{"negative count", func(s *Snapshot, _ *Options) { s.Replicas[2].Secondaries = -1 }, ErrInvalidSnapshot, "negative"},
		{"unknown meta level", func(s *Snapshot, _ *Options) { s.MetaLevel = "turbo" }, ErrInvalidSnapshot, "turbo"},
		{"availability out of range", func(s *Snapshot, _ *Options) { a := 1.5; s.Availability = &a }, ErrInvalidSnapshot, "outside"},
		{"no leader", func(s *Snapshot, _ *Options) { s.Metas[0].Leader = false }, ErrNoMetaLeader, "0 marked"},
		{"two leaders", func(s *Snapshot, _ *Options) { s.Metas[1].Leader = true }, ErrNoMetaLeader, "2 marked"},
		{"replica down", func(s *Snapshot, _ *Options) { s.Replicas[1].Alive = false }, ErrNodeDown, "r2"},
		{"meta down", func(s *Snapshot, _ *Options) { s.Metas[1].Alive = false }, ErrNodeDown, "m2"},
		{"unknown subset node", func(_ *Snapshot, o *Options) { o.Nodes = []string{"r1", "r9"} }, ErrUnknownNode, "r9"},
		{"bad mode", func(_ *Snapshot, o *Options) { o.Mode = "fast" }, ErrInvalidOptions, "fast"},
		{"bad threshold", func(_ *Snapshot, o *Options) { o.MinAvailability = 99.9 }, ErrInvalidOptions, "min availability"},
		{"threshold without collector", func(s *Snapshot, o *Options) { s.Collector, o.MinAvailability = nil, 0.99 }, ErrInvalidOptions, "needs a collector"},
		{"negative resend", func(_ *Snapshot, o *Options) { o.ResendInterval = -time.Second }, ErrInvalidOptions, "negative"},
		{"zero timeout", func(_ *Snapshot, o *Options) {
			o.Timeouts = map[StepKind]Timeout{KindStop: {PerPartition: time.Second}}
		}, ErrInvalidOptions, "stop"},
		{"sub-millisecond window", func(_ *Snapshot, o *Options) { o.MaintenanceWindow = time.Hour + time.Microsecond }, ErrInvalidOptions, "milliseconds"},
		{"upgrade without version", func(s *Snapshot, o *Options) { o.Upgrade, s.NewVersion = true, "" }, ErrNoNewVersion, ""},
		{"upgrade with unparsable version", func(s *Snapshot, o *Options) { o.Upgrade, s.NewVersion = true, "v2" }, ErrNoNewVersion, "v2"},
		{"incompatible upgrade", func(s *Snapshot, o *Options) { o.Upgrade, s.NewVersion = true, "2.0" }, ErrIncompatibleProtocol, "meta-server m1 (1.0)"},
		{"availability already low", func(s *Snapshot, o *Options) {
			a := 0.98
			s.Availability, o.MinAvailability = &a, 0.999
		}, ErrAvailabilityLow, "98.00% < 99.90%"},
		{"window shorter than downtime", func(_ *Snapshot, o *Options) { o.MaintenanceWindow = 2 * time.Minute }, ErrWindowTooShort, "for r1"},
		{"two-replica table", func(s *Snapshot, _ *Options) {
			s.Partitions = []PartitionView{
				{Gpid: "1.0", Table: "temp", Primary: "r1", Secondaries: []string{"r2", "r3"}, MaxReplicas: 3},
				{Gpid: "2.0", Table: "pair", Primary: "r1", Secondaries: []string{"r2"}, MaxReplicas: 2},
				{Gpid: "2.1", Table: "pair", Primary: "r3", Secondaries: []string{"r2"}, MaxReplicas: 2},
			}
		}, ErrTwoReplicaTable, "pair (partitions 2.0, 2.1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, o := testSnapshot(), Options{}
			tc.mutate(&s, &o)
			_, err := Build(s, o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Build: got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("Build: %q does not mention %q", err, tc.detail)
			}
		})
	}
}

// Two-replica tables stop only an HA roll of the servers holding them: a
// simple roll, or an HA roll of other servers, goes.
func TestTwoReplicaTablesRefuseOnlyTheirDrains(t *testing.T) {
	s := testSnapshot()
	s.Partitions = []PartitionView{{Gpid: "2.0", Table: "pair", Primary: "r1", Secondaries: []string{"r2"}, MaxReplicas: 2}}
	if _, err := Build(s, Options{Mode: ModeSimple}); err != nil {
		t.Fatalf("simple roll: %v", err)
	}
	if _, err := Build(s, Options{Nodes: []string{"r3", "m1"}}); err != nil {
		t.Fatalf("HA roll of r3 and m1: %v", err)
	}
	if _, err := Build(s, Options{Nodes: []string{"r2"}}); !errors.Is(err, ErrTwoReplicaTable) {
		t.Fatalf("HA roll of r2: %v, want %v", err, ErrTwoReplicaTable)
	}
}

func TestIncompatibleErrorListsNodes(t *testing.T) {
	s := testSnapshot()
	s.Replicas[1].Version = "2.3"
	s.Collector.Version = ""
	_, err := Build(s, Options{Upgrade: true, Nodes: []string{"r1"}})
	var incompatible *IncompatibleError
	if !errors.As(err, &incompatible) {
		t.Fatalf("got %v, want *IncompatibleError", err)
	}
	got := []string{}
	for _, n := range incompatible.Nodes {
		got = append(got, string(n.Role)+" "+n.Node+" "+n.Version)
	}
	want := []string{"replica-server r2 2.3", "collector c1 "}
	if !slices.Equal(got, want) {
		t.Fatalf("incompatible nodes %q, want %q", got, want)
	}
	if incompatible.NewVersion != "1.1" {
		t.Fatalf("new version %q", incompatible.NewVersion)
	}
}

// kinds lists a plan's steps as "kind node" strings.
func kinds(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, strings.TrimSpace(string(s.Kind)+" "+s.Node))
	}
	return out
}

func TestBuildOrder(t *testing.T) {
	s := testSnapshot()
	// List the leader last in the snapshot's order of metas and first in
	// the plan's: the plan must still restart it last.
	s.Metas = []MetaServer{
		{Node: "m1", Alive: true, Leader: true, Version: "1.0"},
		{Node: "m2", Alive: true, Version: "1.0"},
		{Node: "m3", Alive: true, Version: "1.0"},
	}
	p, err := Build(s, Options{Nodes: []string{"m1", "m3", "r2"}, SLO: SLO{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"check-healthy", "set-meta-level", "set-knob",
		"set-knob r2", "migrate-primaries r2", "downgrade-secondaries r2", "close-replicas r2",
		"stop r2", "start r2", "wait-alive r2", "set-knob r2", "wait-healthy r2",
		"check-meta-role m3", "stop m3", "start m3", "wait-meta-ready m3",
		"check-meta-role m1", "stop m1", "start m1", "wait-meta-ready m1",
		"set-knob", "set-knob", "set-meta-level",
	}
	if got := kinds(p); !slices.Equal(got, want) {
		t.Fatalf("steps\n got %q\nwant %q", got, want)
	}
	// The health gates count every replica server, not only the subset.
	if !slices.Equal(p.Replicas, []string{"r1", "r2", "r3"}) {
		t.Fatalf("replicas %v", p.Replicas)
	}
	// Timeouts scale with the node's replicas: 12 here.
	migrate := p.Steps[4]
	if want := 30*time.Second + 12*200*time.Millisecond; migrate.Timeout != want {
		t.Fatalf("migrate timeout %v, want %v", migrate.Timeout, want)
	}
}

// Every change a plan makes is undone by a later step of the same plan:
// an operator's override is put back with its owner; a knob that was not
// overridden, whose state is unknown, or that an unfinished roll left
// overridden, is reset to DEFAULT (the configuration's value), and the
// leftover is named in the plan's notes.
func TestBuildRestoresEveryChange(t *testing.T) {
	s := testSnapshot()
	s.Knobs = map[string]KnobState{
		KnobAssignDelay:     {Value: "300000"},
		KnobAddSecondaryMax: {Value: "0", Overridden: true, Owner: OwnerPrefix + " roll-old"},
		KnobMetaLevel:       {Value: "lively", Overridden: true, Owner: "balancer-cron"},
	}
	for _, mode := range []Mode{ModeHA, ModeSimple} {
		p, err := Build(s, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		type restore struct{ value, owner string }
		final := map[string]restore{}
		for _, st := range p.Steps {
			if st.Knob != "" {
				final[st.Knob] = restore{st.Value, st.RestoreOwner}
			}
		}
		want := map[string]restore{KnobMetaLevel: {"lively", "balancer-cron"}}
		if mode == ModeHA {
			want[KnobAssignDelay] = restore{KnobDefault, ""}
			want[KnobAddSecondaryMax] = restore{KnobDefault, ""}
		}
		if fmt.Sprint(final) != fmt.Sprint(want) {
			t.Errorf("%s: knobs end at %v, want %v", mode, final, want)
		}
		if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "left by rolling-update roll-old") {
			t.Errorf("%s: notes %q", mode, p.Notes)
		}
	}
}

func TestBuildDefaultsAndOverrides(t *testing.T) {
	p, err := Build(testSnapshot(), Options{
		Timeouts:       map[StepKind]Timeout{KindWaitHealthy: {Base: 10 * time.Minute}},
		ResendInterval: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options
	if o.Mode != ModeHA || o.MaintenanceWindow != time.Hour || o.AddSecondaryMaxCount != 100 ||
		o.ResendInterval != 3*time.Second || o.BreachRecovery != 30*time.Second {
		t.Fatalf("options %+v", o)
	}
	if o.Timeouts[KindWaitHealthy].Base != 10*time.Minute || o.Timeouts[KindStop].Base != time.Minute {
		t.Fatalf("timeouts %+v", o.Timeouts)
	}
	for _, s := range p.Steps {
		if s.Kind == KindWaitHealthy && s.Timeout != 10*time.Minute {
			t.Fatalf("wait-healthy timeout %v", s.Timeout)
		}
		if s.Kind == KindSetKnob && s.Knob == KnobAssignDelay && s.Value != KnobDefault && s.Value != "3600000" {
			t.Fatalf("assign delay %s", s.Value)
		}
	}
}
