package plan

import "strings"

// Knobs are the runtime settings of the meta server a roll changes. Each
// change is recorded as a KnobChange the moment its command is issued, not
// when it is acknowledged: a lost acknowledgement does not mean the meta
// server did not apply it. Cleanup restores exactly the recorded knobs,
// newest first, and a plan step that puts a knob back to its restore value
// removes the record.
//
// The roll sets its knobs as overrides owned by the roll, with a lease the
// orchestrator renews (Options.KnobLease), and restores what it found: an
// override someone else had set is written back with its owner; a knob
// that was not overridden gets DEFAULT, which deletes the roll's override
// so the configuration file rules again. An override left by an earlier
// roll is not taken for the value to restore.
const (
	// KnobMetaLevel is the meta function level, changed by set_meta_level
	// rather than a remote command.
	KnobMetaLevel = "meta_level"
	// KnobAssignDelay is the maintenance window: how long the meta server
	// waits for a dropped replica to come back before copying it elsewhere
	// (replica_assign_delay_ms_for_dropouts).
	KnobAssignDelay = "meta.lb.assign_delay_ms"
	// KnobAddSecondaryMax caps ADD_SECONDARY proposals per node per round;
	// zero pauses re-replication while a node is being emptied.
	KnobAddSecondaryMax = "meta.lb.add_secondary_max_count_for_one_node"
	// KnobDefault is the argument that resets an int knob to its configured
	// value.
	KnobDefault = "DEFAULT"
)

// OwnerPrefix begins the owner a roll sets its knob overrides with
// ("rolling-update <roll id>"), so that an override left by an unfinished
// roll is recognised as such and never taken for the value to restore.
const OwnerPrefix = "rolling-update"

// KnobState is a knob as the meta server reports it before the roll.
type KnobState struct {
	Value string `json:"value"`
	// Overridden: set at run time over the configuration file's value;
	// Owner says by whom ("" for an operator).
	Overridden bool   `json:"overridden,omitempty"`
	Owner      string `json:"owner,omitempty"`
}

// LeftByRoll reports whether the override was set by a rolling update.
func (k KnobState) LeftByRoll() bool {
	return k.Overridden && strings.HasPrefix(k.Owner, OwnerPrefix)
}

// KnobChange is a knob the roll has changed: the value it set last and
// what undoes it (Restore, with RestoreOwner for an override someone else
// had set; DEFAULT deletes the roll's override).
type KnobChange struct {
	Knob         string `json:"knob"`
	Value        string `json:"value,omitempty"`
	Restore      string `json:"restore"`
	RestoreOwner string `json:"restore_owner,omitempty"`
}

// touch records that the roll set knob to value; the first recorded
// restore wins, since it is the one from before the roll.
func touch(touched []KnobChange, knob, value, restore, restoreOwner string) []KnobChange {
	for i, k := range touched {
		if k.Knob == knob {
			touched[i].Value = value
			return touched
		}
	}
	return append(touched, KnobChange{Knob: knob, Value: value, Restore: restore, RestoreOwner: restoreOwner})
}

// untouch forgets knob once it holds its restore value again.
func untouch(touched []KnobChange, knob string) []KnobChange {
	out := touched[:0]
	for _, k := range touched {
		if k.Knob != knob {
			out = append(out, k)
		}
	}
	return out
}
