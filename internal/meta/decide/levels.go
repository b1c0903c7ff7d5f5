package decide

import (
	"fmt"
	"strings"
)

// Level is Pegasus' meta_function_level: how much the meta server may change
// on its own. The meta server changes state in four ways: (0) DDL (create,
// drop, recall tables); (1) downgrading roles of dead nodes; (2) cure:
// assigning primaries and adding or removing secondaries; (3) balancing.
//
//	level    value  allows
//	stopped  100    nothing, not even DDL
//	blind    200    0
//	freezed  300    0, 1
//	steady   400    0, 1, 2 (the balancer only counts what it would do)
//	lively   500    0, 1, 2, 3
//
// Operators run in steady during maintenance (nothing moves except repairs)
// and switch to lively to let the balancer even out the load.
type Level int32

const (
	LevelStopped Level = 100
	LevelBlind   Level = 200
	LevelFreezed Level = 300
	LevelSteady  Level = 400
	LevelLively  Level = 500
)

var levelNames = map[Level]string{
	LevelStopped: "stopped",
	LevelBlind:   "blind",
	LevelFreezed: "freezed",
	LevelSteady:  "steady",
	LevelLively:  "lively",
}

// Name is the short name `set_meta_level` takes: "steady".
func (l Level) Name() string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// String is the name Pegasus prints: "fl_steady".
func (l Level) String() string { return "fl_" + l.Name() }

// ParseLevel accepts "steady" or "fl_steady", in any case.
func ParseLevel(s string) (Level, error) {
	name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "fl_")
	for l, n := range levelNames {
		if n == name {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want stopped, blind, freezed, steady or lively)", ErrUnknownLevel, s)
}

// AllowsDDL reports whether tables may be created, dropped or recalled.
func (l Level) AllowsDDL() bool { return l >= LevelBlind }

// AllowsDeadNodeDowngrade reports whether the meta server takes roles away
// from dead nodes.
func (l Level) AllowsDeadNodeDowngrade() bool { return l >= LevelFreezed }

// AllowsCure reports whether the meta server repairs partitions (primaries,
// missing and redundant secondaries) and accepts replicas' config proposals.
func (l Level) AllowsCure() bool { return l >= LevelSteady }

// AllowsBalance reports whether the balancer may move replicas.
func (l Level) AllowsBalance() bool { return l >= LevelLively }

// Freeze explains why the effective level is below the configured one.
type Freeze struct {
	// Reason is empty when the meta server is not frozen.
	Reason string
}

// EffectiveLevel returns the level the meta server acts on: the configured
// level, capped at freezed when too few replica servers are alive to tell a
// dead node from a partitioned meta server. With half the cluster
// unreachable, it is likelier that the meta server is cut off than that
// half the nodes died; curing then would move every partition for nothing.
//
// The meta server freezes when alive < minLive or alive*100 < livePercent *
// total (Pegasus check_freeze). total counts every known replica server,
// alive or dead.
func EffectiveLevel(configured Level, alive, total int, k Knobs) (Level, Freeze) {
	if configured <= LevelFreezed {
		return configured, Freeze{}
	}
	switch {
	case alive < k.MinLiveNodeCountForUnfreeze:
		return LevelFreezed, Freeze{Reason: fmt.Sprintf("%d alive replica servers, fewer than min_live_node_count_for_unfreeze=%d",
			alive, k.MinLiveNodeCountForUnfreeze)}
	case alive*100 < k.LivePercentage*total:
		return LevelFreezed, Freeze{Reason: fmt.Sprintf("%d of %d replica servers alive, below meta.live_percentage=%d",
			alive, total, k.LivePercentage)}
	}
	return configured, Freeze{}
}
