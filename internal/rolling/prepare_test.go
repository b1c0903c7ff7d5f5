package rolling

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// TestConnectFindsTheRoll: the meta server says where the roll is kept
// (its etcd and the cluster name); without an answering meta server a
// command about a stored roll still works when given both, and a new roll
// (which must read the cluster) does not.
func TestConnectFindsTheRoll(t *testing.T) {
	dial := startEtcd(t)
	endpoints := strings.Join(dial().Endpoints(), ",")
	meta, _ := serve(t, func(s *grpc.Server, addr string) {
		pb.RegisterMetaServer(s, &fakeMetaServer{addr: addr, leader: addr, etcd: endpoints, level: "steady"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := Connect(ctx, Where{Metas: []string{meta}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "c1" || c.Remote == nil || c.Store.StateKey() != "/c1/rolling/state" {
		t.Fatalf("conn %+v", c)
	}
	if _, err := c.Store.Load(ctx); !errors.Is(err, ErrNoRoll) {
		t.Fatalf("load from the reported etcd: %v", err)
	}
	c.Close()

	// The meta list of a onebox directory.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meta_servers"), []byte(meta+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := (Where{Control: "onebox:" + dir}).MetaList(nil); err != nil || len(got) != 1 || got[0] != meta {
		t.Fatalf("onebox meta list %q, %v", got, err)
	}

	// No meta server: direct to the store, for a stored roll only.
	direct := Where{EtcdEndpoints: strings.Split(endpoints, ","), ClusterName: "c1"}
	c, err = Connect(ctx, direct, false)
	if err != nil || c.Remote != nil || c.Name != "c1" {
		t.Fatalf("direct: %+v %v", c, err)
	}
	c.Close()
	if _, err := Connect(ctx, direct, true); !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "--meta") {
		t.Fatalf("new roll without meta: %v", err)
	}
	if _, err := Connect(ctx, Where{}, false); !errors.Is(err, ErrNoCluster) {
		t.Fatalf("nothing given: %v", err)
	}
}

// prepareEnv is a fake cluster and store with fake tools recording what
// they were built with.
type prepareEnv struct {
	*rollEnv
	builtWith []string
	formats   map[string][]version.Format // what `<binary> version` prints, by binary
}

func newPrepareEnv(t *testing.T) *prepareEnv {
	return &prepareEnv{rollEnv: newRollEnv(t, 2, 3)}
}

func (e *prepareEnv) tools() Tools {
	return Tools{
		NewControl: func(spec string, _ ExecTemplates, a Artifacts) (NodeControl, func() error, error) {
			e.builtWith = append(e.builtWith, spec+" "+a.Binary)
			return e.c, func() error { return nil }, nil
		},
		NewCollector: func(string) (Collector, error) { return fakeCollector{e.c}, nil },
		BinaryInfo: func(_ context.Context, bin string) (string, []version.Format, error) {
			if f, ok := e.formats[bin]; ok {
				return "1.1", f, nil
			}
			return "1.1", nil, nil
		},
	}
}

func (e *prepareEnv) prepare(r NewRoll) (*Prepared, error) {
	r.Tools = e.tools()
	info, err := e.c.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return Prepare(context.Background(), e.c, e.store, info, r)
}

func TestPrepare(t *testing.T) {
	e := newPrepareEnv(t)
	ctx := context.Background()
	run := RunSpec{Control: "onebox:rel/dir", Collector: "http://c1:34101", Artifacts: Artifacts{Binary: "bin/pegasus"}}

	if _, err := e.prepare(NewRoll{Run: RunSpec{}}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "--control") {
		t.Fatalf("no control: %v", err)
	}
	p, err := e.prepare(NewRoll{Run: run})
	if err != nil {
		t.Fatal(err)
	}
	// Paths the record keeps are absolute; the new binary's version is
	// checked and installed.
	if !filepath.IsAbs(strings.TrimPrefix(p.Run.Control, "onebox:")) || !filepath.IsAbs(p.Run.Artifacts.Binary) {
		t.Fatalf("paths not made absolute: %+v", p.Run)
	}
	if !p.Plan.Options.Upgrade || p.Plan.NewVersion != "1.1" || p.Plan.Options.RollID == "" {
		t.Fatalf("plan options %+v, version %s", p.Plan.Options, p.Plan.NewVersion)
	}
	if len(e.builtWith) != 1 || !strings.HasSuffix(e.builtWith[0], p.Run.Artifacts.Binary) {
		t.Fatalf("control built with %q", e.builtWith)
	}

	// Without node control that knows each node's binary, and without
	// --previous-binary, a rollback could not work: the plan says so and
	// --auto-rollback is refused.
	if p.Plan.RollbackBlocked == "" || !strings.Contains(p.Plan.RollbackBlocked, "--previous-binary") {
		t.Fatalf("rollback blocked: %q", p.Plan.RollbackBlocked)
	}
	withPrev := run
	withPrev.Previous = Artifacts{Binary: "/old/pegasus"}
	if p, err := e.prepare(NewRoll{Run: withPrev}); err != nil || p.Plan.RollbackBlocked != "" {
		t.Fatalf("with the previous binary: %v, blocked %q", err, p.Plan.RollbackBlocked)
	}
	// A new binary writing a store format the previous one cannot read.
	abs, _ := filepath.Abs(run.Artifacts.Binary)
	e.formats = map[string][]version.Format{abs: {{Name: "store", Writes: 2, ReadsFrom: 1}}}
	p2, err := e.prepare(NewRoll{Run: withPrev})
	if err != nil || !strings.Contains(p2.Plan.RollbackBlocked, "store format 2") {
		t.Fatalf("new format: %v, blocked %q", err, p2.Plan.RollbackBlocked)
	}
	if _, err := e.prepare(NewRoll{Run: withPrev, Options: plan.Options{AutoRollback: true}}); !errors.Is(err, plan.ErrRollbackBlocked) {
		t.Fatalf("auto rollback over a new format: %v", err)
	}
	e.formats = nil

	// An incompatible binary is refused before anything is touched.
	e.c.metas[1].version = "2.0"
	if _, err := e.prepare(NewRoll{Run: run}); !errors.Is(err, ErrRefused) || !errors.Is(err, plan.ErrIncompatibleProtocol) {
		t.Fatalf("incompatible: %v", err)
	}
	e.c.metas[1].version = "1.0"

	// Refused while an orchestrator runs; a dry run is not.
	sess, err := e.store.Acquire(ctx, Holder{Host: "other", PID: 9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.prepare(NewRoll{Run: run}); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if _, err := e.prepare(NewRoll{Run: run, DryRun: true}); err != nil {
		t.Fatalf("dry run while locked: %v", err)
	}
	// An unfinished stored roll: refused; a dry run notes it.
	if err := sess.Save(ctx, Record{Format: recordFormat, State: plan.NewMachine(p.Plan).State()}); err != nil {
		t.Fatal(err)
	}
	_ = sess.Release(ctx)
	if _, err := e.prepare(NewRoll{Run: run}); !errors.Is(err, ErrUnfinishedRoll) {
		t.Fatalf("unfinished: %v", err)
	}
	dry, err := e.prepare(NewRoll{Run: run, DryRun: true})
	if err != nil || len(dry.Notes) != 1 || !strings.Contains(dry.Notes[0], "unfinished roll") {
		t.Fatalf("dry run over an unfinished roll: %v %q", err, dry.Notes)
	}
}

// TestStatusAndToolsOfAStoredRoll: status reads the stored roll and who
// runs it; resume and abort rebuild node control from the record, flags
// overriding what they name.
func TestStatusAndToolsOfAStoredRoll(t *testing.T) {
	e := newPrepareEnv(t)
	e.interruptAt("stop r2:34801")
	st, err := ReadStatus(context.Background(), e.store, "fake", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	st.WriteText(&b)
	for _, want := range []string{"cluster fake: roll running", "orchestrator: none running", "`pegasus rolling-update resume` continues",
		"r1:34801  replica-server  done"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	rec, _ := e.store.Load(context.Background())
	rec.Run.Control, rec.Run.Collector = "onebox:/stored", "http://stored"
	other := "onebox:/elsewhere"
	if _, _, _, err := ToolsFor(rec, Overrides{Control: &other}, e.tools()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ToolsFor(rec, Overrides{}, e.tools()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"onebox:/elsewhere ", "onebox:/stored "}; strings.Join(e.builtWith, "|") != strings.Join(want, "|") {
		t.Fatalf("built with %q, want %q", e.builtWith, want)
	}
}
