package sim

import (
	"flag"
	"os"
	"testing"
)

var flagHoles = flag.Bool("holes", false, "run the hole regression schedules that are skipped until their fixes merge")

// holeSeeds are the seeds every regression schedule runs with: the script
// fixes the faults, the seed the rest (timings, jitter, workload).
var holeSeeds = []uint64{1, 2, 3, 4}

// checkScript runs a regression schedule and fails on any violation, or if
// a key could not be read back once the schedule was over.
func checkScript(t *testing.T, name string) {
	t.Helper()
	for _, seed := range holeSeeds {
		o := Options{Seed: seed, Script: Scripts[name], KeepGoing: *flagKeep}
		if *flagV {
			o.Trace, o.Verbose = os.Stdout, true
		}
		r := Run(o)
		s := Scripts[name]
		if r.Violated() || len(r.Unverified) > 0 || (s.Available && r.Failed+r.Unknown > 0) {
			t.Errorf("%s\nrerun: go test ./internal/sim -run '%s' -holes -seed %d -simv", r.Report(), t.Name(), seed)
			continue
		}
		t.Log(r.Summary())
	}
}

// The reproduced bug: a staggered total outage of a 2-replica partition.
// Before the fix the node that came back first adopted the ballot the meta
// server pushed to it although it was no member, and won recovery on it:
// "acknowledged write at decree N (b1) missing from member r2 of ballot 6".
func TestHoleStaggeredOutage2(t *testing.T) {
	checkScript(t, "staggered-outage-2")
}

// The reproduced bug's variant with 3 replicas: a stale secondary was made
// primary (the same violation).
func TestHoleStaggeredOutage3(t *testing.T) {
	checkScript(t, "staggered-outage-3")
}

// Hole 1: migrate_node hands the primary role away while the old primary
// is cut off and still holds its lease. Before the fix: "stale read: r1
// served a read as primary of ballot 1 after an entry of ballot 3
// committed".
func TestHoleIsolatedPrimaryMigrate(t *testing.T) {
	checkScript(t, "isolated-primary-migrate")
}

// Hole 2: a backward wall-clock step extends a lease. Before the fix (a
// lease compared in wall-clock time): "stale read: r1 served a read as
// primary of ballot 1 after an entry of ballot 2 committed".
func TestHoleClockStepLease(t *testing.T) {
	checkScript(t, "clock-step-lease")
}

// The control of hole 2: the same schedule without the clock step held
// before the fix too, so the failure it showed was the step's doing.
func TestHoleClockStepLeaseControl(t *testing.T) {
	checkScript(t, "clock-step-lease-control")
}

// Hole 3: exactly-once broken by a restart. Before the fix (the request-id
// table rebuilt only from the log past the durable decree) a retry of a
// write applied before the flush was applied again.
func TestHoleExactlyOnceRestart(t *testing.T) {
	checkScript(t, "exactly-once-restart")
}

// Hole 3: exactly-once broken by a checkpoint install. Before the fix (the
// request-id table started empty on the new replica) a retry of a write
// applied before the checkpoint was applied again.
func TestHoleExactlyOnceCheckpoint(t *testing.T) {
	checkScript(t, "exactly-once-checkpoint")
}

// Hole 6: the replica server proposed a write the client sent for the
// first time without looking at the request records. A first attempt that
// arrives after its retry was applied (the simulated network delays
// client requests, as a stream the client gave up on can) was applied
// again: "request C:S applied twice, at decrees 29 and 30 (exactly-once
// broken)" (seed 9; 1, 17, 25, 33 too). Every write with a request id is looked up now, as in the
// replica server (replica TestLateFirstAttemptAnsweredWithOriginal).
func TestHoleLateFirstAttempt(t *testing.T) {
	for _, seed := range []uint64{1, 9, 17, 25, 31, 33} {
		r := Run(Options{Seed: seed, KeepGoing: *flagKeep})
		if r.Violated() {
			t.Errorf("%s\nrerun: go test ./internal/sim -run '%s' -holes -simv", r.Report(), t.Name())
		}
	}
}

// Hole 4: a late Remove deletes the replica of a member, and the next
// configuration naming the node recreates it empty. Before the fix:
// "acknowledged write at decree 1 (b1) missing from member r4 of ballot 7
// (no replica on its disk)".
func TestHoleRemovalRace(t *testing.T) {
	checkScript(t, "removal-race-empty-member")
}

// Hole 1 with a lone primary: the secondary made primary by migrate_node is
// left alone (2 replicas, mutation_2pc_min_replica_count 1) and commits
// while the isolated old primary serves reads. Before the fix: "stale read:
// r1 served a read as primary of ballot 1 after an entry of ballot 3
// committed".
func TestHoleIsolatedLonePrimary(t *testing.T) {
	checkScript(t, "isolated-lone-primary")
}

// The metadata store down for 30 s under load: with no configuration to
// change, every operation succeeds. Before primaries held their read
// leases from their members, every lease from the meta server expired and
// operations failed.
func TestEtcdOutageAvailable(t *testing.T) {
	checkScript(t, "etcd-outage")
}

// A primary closed by replica.kill_partition, past ballot 1: the
// configurations naming it reopen its copy from disk. Before the fix they
// were refused as naming a member without a copy, and the partition took
// no writes for the rest of the run (its keys unverified).
func TestKillPartitionReopens(t *testing.T) {
	checkScript(t, "kill-partition-primary")
}

// Hole 5: meta servers restarted with a wrong cluster_name serve an empty
// namespace of the same etcd for 15 s; the replica servers must keep their
// data. Before cluster ids every replica was deleted on the first beacon
// answer of the empty namespace's meta leader.
func TestHoleForeignMeta(t *testing.T) {
	checkScript(t, "foreign-meta")
}

// Found by seed 9837 (admin): the last member of a partition closed by
// kill_partition while no configuration names it is never reported again,
// and the meta server waits for it for good (a liveness failure; no write
// is lost).
func TestKillPartitionLastMember(t *testing.T) {
	if !*flagHoles {
		t.Skip("fails until a closed replica on disk is reported or reopened: the partition waits for good")
	}
	checkScript(t, "kill-partition-last-member")
}

// TestScriptProbe runs one schedule by name (SIM_SCRIPT) and prints what it
// found, for writing new schedules.
func TestScriptProbe(t *testing.T) {
	name := os.Getenv("SIM_SCRIPT")
	if name == "" {
		t.Skip("SIM_SCRIPT not set")
	}
	o := Options{Seed: *flagSeed, Script: Scripts[name]}
	if *flagV {
		o.Trace, o.Verbose = os.Stdout, true
	}
	t.Logf("%s", Run(o).Report())
}
