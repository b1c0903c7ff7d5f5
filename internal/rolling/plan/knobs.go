package plan

// Knobs are the runtime settings of the meta server a roll changes. Each
// change is recorded as a KnobChange the moment its command is issued, not
// when it is acknowledged: a lost acknowledgement does not mean the meta
// server did not apply it. Cleanup restores exactly the recorded knobs,
// newest first, and a plan step that puts a knob back to its restore value
// removes the record.
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

// KnobChange is a knob the roll has changed and the value that undoes it.
type KnobChange struct {
	Knob    string `json:"knob"`
	Restore string `json:"restore"`
}

// touch records knob as changed unless it already is; the first recorded
// restore value wins, since it is the one from before the roll.
func touch(touched []KnobChange, knob, restore string) []KnobChange {
	for _, k := range touched {
		if k.Knob == knob {
			return touched
		}
	}
	return append(touched, KnobChange{Knob: knob, Restore: restore})
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
