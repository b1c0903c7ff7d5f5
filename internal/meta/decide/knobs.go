package decide

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Knob names, as Pegasus' meta remote commands spell them. The level has no
// remote command in Pegasus (set_meta_level is its own RPC); it is a knob
// here so that one Set path serves both.
const (
	KnobAssignDelayMs                  = "meta.lb.assign_delay_ms"
	KnobAddSecondaryMaxCountForOneNode = "meta.lb.add_secondary_max_count_for_one_node"
	KnobLivePercentage                 = "meta.live_percentage"
	KnobFunctionLevel                  = "meta.function_level"
)

// Knobs are the meta server's runtime-tunable decision parameters.
type Knobs struct {
	// AssignDelay is replica_assign_delay_ms_for_dropouts: how long a
	// partition missing a secondary waits for the dropped node to come
	// back before a new replica is copied to another node. Rolling restarts
	// raise it to cover the restart of one node.
	AssignDelay time.Duration
	// AddSecondaryMaxCountForOneNode bounds the learners in flight on one
	// node (add_secondary_max_count_for_one_node); 0 holds back the re-add
	// of nodes drained while alive, and lets other repairs through one
	// learner per node at a time (see cureRound.quota).
	// Pegasus applies it only with add_secondary_enable_flow_control; here
	// flow control is always on.
	AddSecondaryMaxCountForOneNode int
	// LivePercentage is node_live_percentage_threshold_for_update: freeze
	// when fewer than this percentage of replica servers are alive.
	LivePercentage int
	// MinLiveNodeCountForUnfreeze: freeze when fewer replica servers are
	// alive. Set from the configuration file only; no remote command.
	MinLiveNodeCountForUnfreeze int
	// Level is the configured meta function level.
	Level Level
}

// DefaultKnobs returns the defaults. They differ from Pegasus' code where the
// shipped config.ini or this project's shorter timings say otherwise:
// assign delay 5 min (Pegasus 10 min), live percentage 50 (config.ini), and
// min live nodes 2 rather than 3, so that a three-node cluster keeps curing
// while one node restarts.
func DefaultKnobs() Knobs {
	return Knobs{
		AssignDelay:                    300000 * time.Millisecond,
		AddSecondaryMaxCountForOneNode: 10,
		LivePercentage:                 50,
		MinLiveNodeCountForUnfreeze:    2,
		Level:                          LevelSteady,
	}
}

// Names lists the knob names Set and Get accept, for `help`.
func (Knobs) Names() []string {
	names := []string{KnobAssignDelayMs, KnobAddSecondaryMaxCountForOneNode, KnobLivePercentage, KnobFunctionLevel}
	slices.Sort(names)
	return names
}

// Get returns a knob's current value as Set would accept it.
func (k Knobs) Get(name string) (string, error) {
	switch name {
	case KnobAssignDelayMs:
		return strconv.FormatInt(k.AssignDelay.Milliseconds(), 10), nil
	case KnobAddSecondaryMaxCountForOneNode:
		return strconv.Itoa(k.AddSecondaryMaxCountForOneNode), nil
	case KnobLivePercentage:
		return strconv.Itoa(k.LivePercentage), nil
	case KnobFunctionLevel:
		return k.Level.Name(), nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownKnob, name)
}

// Set changes a knob. "DEFAULT" restores the default (rolling-update
// scripts reset their knobs this way). On error k is unchanged.
func (k *Knobs) Set(name, value string) error {
	value = strings.TrimSpace(value)
	def := DefaultKnobs()
	reset := value == "DEFAULT"
	switch name {
	case KnobAssignDelayMs:
		if reset {
			k.AssignDelay = def.AssignDelay
			return nil
		}
		ms, err := parseNonNegative(name, value, 1<<53)
		if err != nil {
			return err
		}
		k.AssignDelay = time.Duration(ms) * time.Millisecond
	case KnobAddSecondaryMaxCountForOneNode:
		if reset {
			k.AddSecondaryMaxCountForOneNode = def.AddSecondaryMaxCountForOneNode
			return nil
		}
		n, err := parseNonNegative(name, value, 1<<31-1)
		if err != nil {
			return err
		}
		k.AddSecondaryMaxCountForOneNode = int(n)
	case KnobLivePercentage:
		if reset {
			k.LivePercentage = def.LivePercentage
			return nil
		}
		n, err := parseNonNegative(name, value, 100)
		if err != nil {
			return err
		}
		k.LivePercentage = int(n)
	case KnobFunctionLevel:
		if reset {
			k.Level = def.Level
			return nil
		}
		l, err := ParseLevel(value)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidKnobValue, name, err)
		}
		k.Level = l
	default:
		return fmt.Errorf("%w: %q", ErrUnknownKnob, name)
	}
	return nil
}

func parseNonNegative(name, value string, max int64) (int64, error) {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%w: %s=%q (want an integer in [0, %d] or DEFAULT)", ErrInvalidKnobValue, name, value, max)
	}
	return n, nil
}
