package decide

import (
	"errors"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{
		"stopped": LevelStopped, "fl_blind": LevelBlind, "FREEZED": LevelFreezed,
		" steady ": LevelSteady, "fl_lively": LevelLively,
	} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("invalid"); !errors.Is(err, ErrUnknownLevel) {
		t.Errorf("ParseLevel(invalid) = %v", err)
	}
	if LevelSteady.String() != "fl_steady" || LevelSteady.Name() != "steady" {
		t.Errorf("names %s %s", LevelSteady, LevelSteady.Name())
	}
}

func TestLevelPermissions(t *testing.T) {
	for _, tc := range []struct {
		l                      Level
		ddl, down, cure, moves bool
	}{
		{LevelStopped, false, false, false, false},
		{LevelBlind, true, false, false, false},
		{LevelFreezed, true, true, false, false},
		{LevelSteady, true, true, true, false},
		{LevelLively, true, true, true, true},
	} {
		if tc.l.AllowsDDL() != tc.ddl || tc.l.AllowsDeadNodeDowngrade() != tc.down ||
			tc.l.AllowsCure() != tc.cure || tc.l.AllowsBalance() != tc.moves {
			t.Errorf("%s permissions wrong", tc.l)
		}
	}
}

func TestEffectiveLevel(t *testing.T) {
	k := DefaultKnobs() // min live 2, live percentage 50
	for _, tc := range []struct {
		set          Level
		alive, total int
		want         Level
	}{
		{LevelLively, 3, 3, LevelLively},
		{LevelSteady, 2, 3, LevelSteady},   // one of three restarting: keep curing
		{LevelSteady, 1, 3, LevelFreezed},  // fewer than min live
		{LevelSteady, 4, 10, LevelFreezed}, // 40% < 50%
		{LevelSteady, 5, 10, LevelSteady},  // exactly 50%
		{LevelLively, 0, 0, LevelFreezed},  // no replica servers at all
		{LevelBlind, 0, 10, LevelBlind},    // freezing never raises the level
		{LevelFreezed, 0, 10, LevelFreezed},
	} {
		got, fr := EffectiveLevel(tc.set, tc.alive, tc.total, k)
		if got != tc.want || (got != tc.set) != (fr.Reason != "") {
			t.Errorf("EffectiveLevel(%s, %d/%d) = %s %q, want %s", tc.set, tc.alive, tc.total, got, fr.Reason, tc.want)
		}
	}
}
