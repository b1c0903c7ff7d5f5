package meta

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// update_app_env: validated, stored with a new revision, pushed to every
// member, kept by the next leader, and re-sent in beacon answers to a
// node that reports an older revision or none.
func TestUpdateAppEnv(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.steps(1)
	s.createTable("t", 4, 3)
	s.steps(2)
	ctx := context.Background()

	set := AppEnvUpdate{Table: "t", Op: AppEnvSet, Keys: []string{"replica.write_throttling", "default_ttl"}, Values: []string{"1000*delay*100,2000*reject*200", "60"}}
	tb, _, err := s.ctl.UpdateAppEnv(ctx, set)
	if err != nil || tb.EnvsRevision != 1 || tb.Envs["default_ttl"] != "60" {
		t.Fatalf("set: %+v %v", tb, err)
	}
	s.waitPushes()
	for _, n := range []string{"n1:1", "n2:1", "n3:1"} {
		s.admin.mu.Lock()
		rev, ok := s.admin.envs[n][tb.AppID]
		s.admin.mu.Unlock()
		if !ok || rev != 1 {
			t.Errorf("%s was pushed revision %d (%v), want 1", n, rev, ok)
		}
	}
	// The same change again changes nothing and is not written.
	if again, _, err := s.ctl.UpdateAppEnv(ctx, set); err != nil || again.EnvsRevision != 1 {
		t.Fatalf("repeat: %+v %v", again, err)
	}

	bad := []AppEnvUpdate{
		{Table: "t", Op: AppEnvSet, Keys: []string{"replica.deny_client_request"}, Values: []string{"reject*write"}},
		{Table: "t", Op: AppEnvSet, Keys: []string{"no.such.key"}, Values: []string{"1"}},
		{Table: "t", Op: AppEnvSet, Keys: []string{"default_ttl"}},
		{Table: "t", Op: AppEnvDel},
		{Table: "t"},
	}
	for _, u := range bad {
		if _, _, err := s.ctl.UpdateAppEnv(ctx, u); !errors.Is(err, ErrInvalidArgument) || wireCode(err) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Errorf("%+v: %v", u, err)
		}
	}
	if _, _, err := s.ctl.UpdateAppEnv(ctx, AppEnvUpdate{Table: "nope", Op: AppEnvClear}); !errors.Is(err, ErrTableNotFound) {
		t.Errorf("unknown table: %v", err)
	}

	tb, hint, err := s.ctl.UpdateAppEnv(ctx, AppEnvUpdate{Table: "t", Op: AppEnvDel, Keys: []string{"default_ttl", "absent"}})
	if err != nil || tb.EnvsRevision != 2 || len(tb.Envs) != 1 || hint == "" {
		t.Fatalf("del: %+v %q %v", tb, hint, err)
	}

	// Beacon answers: a node reporting revision 2 gets nothing, one
	// reporting 1 or nothing gets the table.
	n := s.node("n1:1")
	beacon := func(revs map[int32]int64) BeaconReply {
		s.admin.mu.Lock()
		b := Beacon{Node: n.addr, Protocol: n.proto, StartTime: n.start, Replicas: n.reports(), EnvsRevisions: revs}
		s.admin.mu.Unlock()
		return s.ctl.Beacon(b)
	}
	if r := beacon(map[int32]int64{tb.AppID: 2}); len(r.Tables) != 0 {
		t.Errorf("up-to-date node sent %d tables", len(r.Tables))
	}
	for _, revs := range []map[int32]int64{{tb.AppID: 1}, nil} {
		r := beacon(revs)
		if len(r.Tables) != 1 || r.Tables[0].EnvsRevision != 2 || !maps.Equal(r.Tables[0].Envs, tb.Envs) {
			t.Errorf("node reporting %v was sent %+v", revs, r.Tables)
		}
	}

	// The next leader reads the envs from the store.
	next := s.newController()
	s.lead(next)
	if got, _, err := next.UpdateAppEnv(ctx, AppEnvUpdate{Table: "t", Op: AppEnvClear, ClearPrefix: "replica."}); err != nil ||
		got.EnvsRevision != 3 || len(got.Envs) != 0 {
		t.Fatalf("clear on the next leader: %+v %v", got, err)
	}
}
