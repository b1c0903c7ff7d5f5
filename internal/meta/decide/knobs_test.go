package decide

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestKnobs(t *testing.T) {
	k := DefaultKnobs()
	for _, tc := range []struct {
		name, value string
		err         error
		get         string
	}{
		{KnobAssignDelayMs, "180000000", nil, "180000000"},
		{KnobAssignDelayMs, "DEFAULT", nil, "300000"},
		{KnobAssignDelayMs, "10", nil, "10"},
		{KnobAssignDelayMs, "-1", ErrInvalidKnobValue, "10"},
		{KnobAssignDelayMs, "soon", ErrInvalidKnobValue, "10"},
		{KnobAddSecondaryMaxCountForOneNode, "0", nil, "0"},
		{KnobAddSecondaryMaxCountForOneNode, "100", nil, "100"},
		{KnobAddSecondaryMaxCountForOneNode, "DEFAULT", nil, "10"},
		{KnobLivePercentage, "65", nil, "65"},
		{KnobLivePercentage, "101", ErrInvalidKnobValue, "65"},
		{KnobLivePercentage, "DEFAULT", nil, "50"},
		{KnobFunctionLevel, "lively", nil, "lively"},
		{KnobFunctionLevel, "fl_freezed", nil, "freezed"},
		{KnobFunctionLevel, "busy", ErrInvalidKnobValue, "freezed"},
		{KnobFunctionLevel, "DEFAULT", nil, "steady"},
		{"meta.lb.no_such_knob", "1", ErrUnknownKnob, ""},
	} {
		err := k.Set(tc.name, tc.value)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("Set(%s, %s) = %v, want %v", tc.name, tc.value, err, tc.err)
		}
		got, gerr := k.Get(tc.name)
		if tc.get == "" {
			if !errors.Is(gerr, ErrUnknownKnob) {
				t.Errorf("Get(%s) = %v", tc.name, gerr)
			}
			continue
		}
		if got != tc.get {
			t.Errorf("after Set(%s, %s): Get = %q, want %q", tc.name, tc.value, got, tc.get)
		}
	}
	if k.AssignDelay != 10*time.Millisecond {
		t.Errorf("assign delay %v", k.AssignDelay)
	}
	names := k.Names()
	for _, n := range []string{KnobAssignDelayMs, KnobAddSecondaryMaxCountForOneNode, KnobLivePercentage, KnobFunctionLevel} {
		if !slices.Contains(names, n) {
			t.Errorf("Names() lacks %s", n)
		}
		if _, err := k.Get(n); err != nil {
			t.Errorf("Get(%s): %v", n, err)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() unsorted: %v", names)
	}
}
