package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestUnreachableMetaFailsFast(t *testing.T) {
	// A port nobody listens on refuses at once; a listener that never
	// speaks gRPC holds the connection until the dial timeout (1 s here).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	refused := closedPort(t)
	for _, metas := range [][]string{{refused}, {silent.Addr().String()}, {refused, silent.Addr().String()}} {
		sh, _ := newTestShell(t, newFakeData(), metas...)
		start := time.Now()
		err := sh.RunScript(context.Background(), "nodes -d")
		if !errors.Is(err, ErrMetaUnreachable) {
			t.Fatalf("%v: got %v, want ErrMetaUnreachable", metas, err)
		}
		for _, m := range metas {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error does not name %s: %v", m, err)
			}
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("%v: took %s to fail", metas, elapsed)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFollowsForwardToLeader(t *testing.T) {
	leader, follower := startFakeMeta(t), startFakeMeta(t)
	follower.forwardTo = leader.addr
	leader.nodes = []*pb.NodeInfo{{Address: "127.0.0.1:34801", Alive: true}}
	sh, out := newTestShell(t, newFakeData(), follower.addr)

	for range 2 {
		if err := sh.RunScript(context.Background(), "nodes"); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "127.0.0.1:34801  ALIVE") {
		t.Fatalf("output:\n%s", out)
	}
	// The follower is asked once; the second command goes to the leader
	// it named.
	if got := follower.callLog(); len(got) != 1 {
		t.Errorf("follower calls %v, want one", got)
	}
	if got := leader.callLog(); !reflect.DeepEqual(got, []string{"ListNodes", "ListNodes"}) {
		t.Errorf("leader calls %v", got)
	}
}

func TestNoLeaderIsReported(t *testing.T) {
	a, b := startFakeMeta(t), startFakeMeta(t)
	a.forwardTo, b.forwardTo = b.addr, a.addr
	sh, _ := newTestShell(t, newFakeData(), a.addr, b.addr)
	err := sh.RunScript(context.Background(), "ls")
	if !errors.Is(err, ErrMetaUnreachable) || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("got %v", err)
	}
}

func TestScriptStopsAtFirstError(t *testing.T) {
	meta := startFakeMeta(t)
	sh, _ := newTestShell(t, newFakeData(), meta.addr)
	err := sh.RunScript(context.Background(), "ls; frobnicate; nodes")
	if !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("got %v, want ErrUnknownCommand", err)
	}
	err = sh.RunScript(context.Background(), `ls -d; app "no such" -d; nodes`)
	if !errors.Is(err, ErrUnknownTable) {
		t.Fatalf("got %v, want ErrUnknownTable", err)
	}
	if err := sh.RunScript(context.Background(), "ls\nexit; nodes"); err != nil {
		t.Fatalf("exit: %v", err)
	}
	want := []string{"ListTables", "ListTables", "QueryConfig", "ListTables"}
	if got := meta.callLog(); !reflect.DeepEqual(got, want) {
		t.Fatalf("meta calls %v, want %v (nothing after a failure or exit)", got, want)
	}
}

func TestCreateWaitsUntilHealthy(t *testing.T) {
	meta := startFakeMeta(t)
	meta.healthyAfter = 4
	sh, out := newTestShell(t, newFakeData(), meta.addr)
	if err := sh.RunScript(context.Background(), "create t1 -p 8 -r 3 -e a=1,b=2"); err != nil {
		t.Fatal(err)
	}
	want := `create app "t1" succeed, waiting for app ready
t1 not ready yet, still waiting... (2/8)
t1 not ready yet, still waiting... (4/8)
t1 not ready yet, still waiting... (6/8)
t1 is ready now: (8/8)
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
	if envs := meta.tables["t1"].health.Table.Envs; !reflect.DeepEqual(envs, map[string]string{"a": "1", "b": "2"}) {
		t.Fatalf("envs %v", envs)
	}

	meta.healthyAfter = -1
	sh.cfg.CreateTimeout = 100 * time.Millisecond
	err := sh.RunScript(context.Background(), "create t2 -p 4")
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "0/4") {
		t.Fatalf("got %v, want ErrNotReady", err)
	}
}

func TestRemoteCommand(t *testing.T) {
	meta := startFakeMeta(t)
	meta.remote = func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
		return &pb.RemoteCommandResponse{Output: `{"error":"ok","` + req.GetCommand() + `":"` + strings.Join(req.GetArgs(), " ") + `"}`}
	}
	ok := serve(t, func(s *grpc.Server) {
		pb.RegisterReplicaAdminServer(s, &fakeReplicaAdmin{reply: func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
			return &pb.RemoteCommandResponse{Output: "Flush done."}
		}})
	})
	refusing := serve(t, func(s *grpc.Server) {
		pb.RegisterReplicaAdminServer(s, &fakeReplicaAdmin{reply: func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
			return &pb.RemoteCommandResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unknown command"}}
		}})
	})
	meta.nodes = []*pb.NodeInfo{{Address: ok, Alive: true}, {Address: refusing, Alive: true}, {Address: "127.0.0.1:1", Alive: false}}
	sh, out := newTestShell(t, newFakeData(), meta.addr)

	run := func(line string) (remoteJSON, error) {
		t.Helper()
		out.Reset()
		err := sh.RunScript(context.Background(), line)
		var doc remoteJSON
		if jerr := json.Unmarshal(out.Bytes(), &doc); jerr != nil {
			t.Fatalf("%s: output is not JSON (%v):\n%s", line, jerr, out)
		}
		return doc, err
	}

	doc, err := run("remote_command -t all flush_log")
	if !errors.Is(err, ErrRemoteCommandFailed) {
		t.Fatalf("got %v, want ErrRemoteCommandFailed (one server refused)", err)
	}
	if doc.Command != "flush-log" || doc.SucceedCount != 2 || doc.FailedCount != 1 || len(doc.Details) != 3 {
		t.Fatalf("doc %+v", doc)
	}
	if d := doc.Details[meta.addr]; d.Role != roleMeta || !d.Acked || compactJSON(t, d.Message) != `{"error":"ok","flush-log":""}` {
		t.Errorf("meta detail %+v %s", d, d.Message)
	}
	if d := doc.Details[ok]; d.Role != roleReplica || !d.Acked || string(d.Message) != `"Flush done."` {
		t.Errorf("replica detail %+v %s", d, d.Message)
	}
	if d := doc.Details[refusing]; !d.Acked || !strings.Contains(string(d.Message), "ERR_INVALID_PARAMETERS") {
		t.Errorf("refusing replica detail %+v %s", d, d.Message)
	}

	doc, err = run("remote_command -t meta-server meta.lb.assign_delay_ms 180000000")
	if err != nil || doc.Command != "meta.lb.assign_delay_ms 180000000" || doc.SucceedCount != 1 || len(doc.Details) != 1 {
		t.Fatalf("meta-server: %v %+v", err, doc)
	}

	// A follower that forwards to the leader does not fail the command;
	// the leader's answer decides.
	follower := startFakeMeta(t)
	follower.forwardTo = meta.addr
	meta.mu.Lock()
	meta.info.Metas = append(meta.info.Metas, &pb.MetaServerInfo{Address: follower.addr})
	meta.mu.Unlock()
	doc, err = run("remote_command -t meta-server meta.lb.assign_delay_ms")
	if err != nil || doc.SucceedCount != 2 || doc.FailedCount != 0 || !strings.Contains(string(doc.Details[follower.addr].Message), "ERR_FORWARD_TO_OTHERS") {
		t.Fatalf("with a follower: %v %+v", err, doc)
	}
	meta.mu.Lock()
	meta.remote = func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
		return &pb.RemoteCommandResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS}}
	}
	meta.mu.Unlock()
	if doc, err = run("remote_command -t meta-server meta.lb.assign_delay_ms x"); !errors.Is(err, ErrRemoteCommandFailed) || doc.FailedCount != 1 {
		t.Fatalf("leader refusing: %v %+v", err, doc)
	}

	unreachable := closedPort(t)
	doc, err = run("remote_command -l " + ok + "," + unreachable + " server_info -x")
	if !errors.Is(err, ErrRemoteCommandFailed) || doc.Command != "server-info -x" {
		t.Fatalf("-l: %v %+v", err, doc)
	}
	if d := doc.Details[ok]; d.Role != roleUser || !d.Acked {
		t.Errorf("-l reachable detail %+v", d)
	}
	if d := doc.Details[unreachable]; d.Role != roleUser || d.Acked {
		t.Errorf("-l unreachable detail %+v", d)
	}
}

func TestDataErrorsKeepTheirKind(t *testing.T) {
	meta := startFakeMeta(t)
	data := newFakeData("t")
	data.tables["t"].failWith = errors.Join(client.ErrTimeout, client.ErrUnknownOutcome)
	sh, _ := newTestShell(t, data, meta.addr)
	if err := sh.RunScript(context.Background(), "use t"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"set a b c", "get a b", "del a b", "exist a b", "ttl a b", "multi_get a", "scan a"} {
		if err := sh.RunScript(context.Background(), line); !errors.Is(err, client.ErrTimeout) {
			t.Errorf("%s: got %v, want client.ErrTimeout", line, err)
		}
	}
	// Dropping the table in use unselects it.
	meta.tables["t"] = &fakeTable{health: &pb.TableHealth{Table: &pb.TableInfo{Name: "t"}}}
	if err := sh.RunScript(context.Background(), "drop t; get a b"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("after drop: %v, want ErrNoTable", err)
	}
}

func TestDefaultMetaServers(t *testing.T) {
	t.Chdir(t.TempDir())
	if got := DefaultMetaServers(); !reflect.DeepEqual(got, []string{DefaultMeta}) {
		t.Fatalf("without onebox: %v", got)
	}
	if err := os.MkdirAll(filepath.Dir(OneboxMetaServersFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(OneboxMetaServersFile, []byte("127.0.0.1:5,127.0.0.1:6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := DefaultMetaServers(); !reflect.DeepEqual(got, []string{"127.0.0.1:5", "127.0.0.1:6"}) {
		t.Fatalf("with onebox: %v", got)
	}
}

func TestNewRejectsNoMeta(t *testing.T) {
	if _, err := New(Config{MetaServers: []string{" ", ""}}); !errors.Is(err, ErrUsage) {
		t.Fatalf("got %v", err)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	meta := startFakeMeta(t)
	sh, out := newTestShell(t, newFakeData(), meta.addr)
	if err := sh.RunScript(context.Background(), "help"); err != nil {
		t.Fatal(err)
	}
	for _, c := range commandTable {
		if !strings.Contains(out.String(), "  "+c.usage()+"\n") {
			t.Errorf("help lacks %s", c.name)
		}
	}
	if !slices.IsSorted(commandNames()) {
		t.Errorf("command names not sorted")
	}
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
