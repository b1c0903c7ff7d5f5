package appenv

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := map[string][]string{
		DenyClientRequest:     {"timeout*all", "timeout*read", "timeout*write", "reconfig*all", "reconfig*read", "reconfig*write"},
		WriteThrottling:       {"1000*delay*100", "2000*reject*200", "1000*delay*100,2000*reject*200", "10K*delay*0"},
		WriteThrottlingBySize: {"10M*delay*100,20M*reject*100"},
		DefaultTTL:            {"0", "86400"},
	}
	for k, vs := range good {
		for _, v := range vs {
			if err := Validate(k, v); err != nil {
				t.Errorf("Validate(%s, %s) = %v", k, v, err)
			}
		}
	}
	bad := map[string][]string{
		DenyClientRequest:     {"", "reject*write", "timeout", "timeout*both", "timeout*all*x"},
		WriteThrottling:       {"", "1000", "1000*delay", "x*delay*1", "1000*slow*1", "1*delay*1,2*delay*2", "1000*delay*-1", "99999999999999999999M*delay*1"},
		WriteThrottlingBySize: {"1G*delay*1"},
		DefaultTTL:            {"-1", "abc", "99999999999"},
	}
	for k, vs := range bad {
		for _, v := range vs {
			if err := Validate(k, v); !errors.Is(err, ErrInvalidValue) {
				t.Errorf("Validate(%s, %q) = %v, want ErrInvalidValue", k, v, err)
			}
		}
	}
	if err := Validate("rocksdb.no_such_key", "1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	if err := ValidateKnown(map[string]string{"business.info": "x", DefaultTTL: "5"}); err != nil {
		t.Errorf("ValidateKnown: %v", err)
	}
	if err := ValidateKnown(map[string]string{DefaultTTL: "x"}); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("ValidateKnown bad ttl: %v", err)
	}
}

func TestParse(t *testing.T) {
	e := Parse(map[string]string{
		DenyClientRequest: "reconfig*write",
		WriteThrottling:   "1K*delay*100,2000*reject*200",
		DefaultTTL:        "60",
	})
	if e.DenyRead || !e.DenyWrite || !e.Reconfig {
		t.Errorf("deny: %+v", e)
	}
	want := Throttle{DelayUnits: 1024, Delay: 100 * time.Millisecond, RejectUnits: 2000, RejectDelay: 200 * time.Millisecond}
	if e.WriteQPS != want || e.WriteSize.Enabled() || e.DefaultTTLSeconds != 60 {
		t.Errorf("parsed %+v", e)
	}
	if e := Parse(map[string]string{DenyClientRequest: "bogus", WriteThrottling: "bogus"}); e.DenyRead || e.DenyWrite || e.WriteQPS.Enabled() {
		t.Errorf("invalid values took effect: %+v", e)
	}
}

func TestControl(t *testing.T) {
	// 4 partitions: a table limit of 400 delay / 800 reject is 101 / 201
	// per partition.
	th, err := ParseThrottle("400*delay*100,800*reject*50")
	if err != nil {
		t.Fatal(err)
	}
	var w Window
	count := map[Decision]int{}
	for range 300 {
		d, wait := th.Control(&w, 7, 4, 1, time.Second)
		count[d]++
		switch d {
		case Delay:
			if wait != 100*time.Millisecond {
				t.Fatalf("delay wait %v", wait)
			}
		case Reject:
			if wait != 50*time.Millisecond {
				t.Fatalf("reject wait %v", wait)
			}
		}
	}
	if count[Pass] != 101 || count[Delay] != 100 || count[Reject] != 99 {
		t.Fatalf("decisions %v, want 101 pass, 100 delay, 99 reject", count)
	}
	// A new second starts a new window.
	if d, _ := th.Control(&w, 8, 4, 1, time.Second); d != Pass {
		t.Fatalf("next second: %v", d)
	}
	// Waits are capped at half the request's timeout.
	if _, wait := th.Control(&Window{units: 1000, second: 9}, 9, 4, 1, 60*time.Millisecond); wait != 30*time.Millisecond {
		t.Fatalf("capped wait %v", wait)
	}
	if d, _ := (Throttle{}).Control(&w, 9, 4, 1e9, 0); d != Pass {
		t.Fatal("disabled throttle refused")
	}
}
