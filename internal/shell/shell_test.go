package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
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

// Piped commands go on after a failing one, as in Pegasus' shell: each
// error is reported with its line, and the result wraps the first failure.
func TestPipeGoesOnAfterErrors(t *testing.T) {
	meta := startFakeMeta(t)
	sh, out := newTestShell(t, newFakeData("t"), meta.addr)
	var stderr bytes.Buffer
	input := "use t\nset a b c\nfrobnicate\nget a b; get a\nset a b2 c2 -5\nget a b2\nexist a b\n"
	err := sh.RunReader(context.Background(), strings.NewReader(input), &stderr)
	var pe *PipeError
	if !errors.As(err, &pe) || pe.Failed != 3 || pe.Ran != 8 || !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("got %v, want 3 of 8 failed, the first ErrUnknownCommand", err)
	}
	for _, want := range []string{"ERROR: line 3: shell: unknown command", "ERROR: line 4: shell: bad usage of get", "ERROR: line 5: shell: bad usage of set: ttl must be a number of seconds"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	// Every good command ran, also after the failures.
	if got := out.String(); got != "OK\nOK\n\"c\"\nNot found\nTrue\n" {
		t.Errorf("output %q", got)
	}
	// exit ends the input; what failed before still counts.
	stderr.Reset()
	err = sh.RunReader(context.Background(), strings.NewReader("frobnicate\nexit\nfrobnicate\n"), &stderr)
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Ran != 1 {
		t.Fatalf("with exit: %v", err)
	}
	if err := sh.RunReader(context.Background(), strings.NewReader("get a b\n"), &stderr); err != nil {
		t.Fatalf("all good: %v", err)
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

	// A follower that forwards to the leader neither succeeds nor fails
	// when the leader ran the command; alone, it fails.
	follower := startFakeMeta(t)
	follower.forwardTo = meta.addr
	meta.mu.Lock()
	meta.info.Metas = append(meta.info.Metas, &pb.MetaServerInfo{Address: follower.addr})
	meta.mu.Unlock()
	doc, err = run("remote_command -t meta-server meta.lb.assign_delay_ms")
	if err != nil || doc.SucceedCount != 1 || doc.FailedCount != 0 || doc.ForwardedCount != 1 ||
		!strings.Contains(string(doc.Details[follower.addr].Message), "ERR_FORWARD_TO_OTHERS") {
		t.Fatalf("with a follower: %v %+v", err, doc)
	}
	if doc, err = run("remote_command -l " + follower.addr + " meta.lb.assign_delay_ms"); !errors.Is(err, ErrRemoteCommandFailed) || doc.FailedCount != 1 || doc.SucceedCount != 0 {
		t.Fatalf("only the follower: %v %+v", err, doc)
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

// server_info and server_stat show each server's answer as a row.
func TestServerInfoAndStat(t *testing.T) {
	meta := startFakeMeta(t)
	meta.remote = func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
		return &pb.RemoteCommandResponse{Output: `{"node":"m","role":"meta-server","version":"0.1.0","git_sha":"0123456789abcdef","build_time":"2026-01-02T03:04:05Z","protocol_version":"1.0","uptime_seconds":61,"is_leader":true}`}
	}
	replica := serve(t, func(s *grpc.Server) {
		pb.RegisterReplicaAdminServer(s, &fakeReplicaAdmin{reply: func(req *pb.RemoteCommandRequest) *pb.RemoteCommandResponse {
			if req.GetCommand() == "server-stat" {
				return &pb.RemoteCommandResponse{Output: `{"total_replicas":8,"lease_valid":true}`}
			}
			return &pb.RemoteCommandResponse{Output: `{"version":"0.1.0","git_sha":"fedcba9876543210-dirty","build_time":"unknown","protocol_version":"1.0","uptime_seconds":3600}`}
		}})
	})
	meta.nodes = []*pb.NodeInfo{{Address: replica, Alive: true}}
	sh, out := newTestShell(t, newFakeData(), meta.addr)
	if err := sh.RunScript(context.Background(), "server_info"); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for _, want := range []string{
		meta.addr + " meta-server 0.1.0 0123456789ab 2026-01-02T03:04:05Z 1.0 1m1s",
		replica + " replica-server 0.1.0 fedcba9876543210-dirty unknown 1.0 1h0m0s",
	} {
		if rows[strings.Fields(want)[0]] != want {
			t.Errorf("server_info lacks %q:\n%s", want, out)
		}
	}
	out.Reset()
	if err := sh.RunScript(context.Background(), "server_stat -t replica-server"); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out.String()); !slices.Equal(f, []string{"[server-stat]", "node", "role", "lease_valid", "total_replicas", "error", replica, "replica-server", "true", "8"}) {
		t.Errorf("server_stat:\n%s", out)
	}
	out.Reset()
	if err := sh.RunScript(context.Background(), "server_stat -t replica-server --json"); err != nil || !strings.Contains(out.String(), `"command": "server-stat"`) {
		t.Errorf("server_stat --json: %v\n%s", err, out)
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
