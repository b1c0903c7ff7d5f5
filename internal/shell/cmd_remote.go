package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Roles of remote_command targets, as Pegasus names them in its output.
const (
	roleMeta    = "meta-server"
	roleReplica = "replica-server"
	roleUser    = "user-specified"
)

// remoteCommandAliases are the shell spellings Pegasus accepts for some
// server commands.
var remoteCommandAliases = map[string]string{
	"server_info": "server-info",
	"flush_log":   "flush-log",
}

// remoteJSON is remote_command's output, Pegasus' shape.
type remoteJSON struct {
	Command      string                  `json:"command"`
	Details      map[string]remoteDetail `json:"details"`
	SucceedCount int                     `json:"succeed_count"`
	FailedCount  int                     `json:"failed_count"`
	// ForwardedCount counts meta servers that did not run the command
	// because only the leader runs it (they answered
	// ERR_FORWARD_TO_OTHERS) while the leader answered itself: neither
	// successes nor failures. Without the leader among the targets they
	// are failures.
	ForwardedCount int `json:"forwarded_count,omitempty"`
}

type remoteDetail struct {
	Role  string `json:"role"`
	Acked bool   `json:"acked"`
	// Message is the server's output: embedded as JSON when it is JSON,
	// else a string; or the error when the call failed.
	Message json.RawMessage `json:"message"`
}

// remoteTarget is one server a remote command goes to.
type remoteTarget struct {
	addr string
	role string
	meta bool // call the Meta service, else ReplicaAdmin
	// clusterID is the id of the cluster whose meta server listed the
	// replica server: a server of another cluster refuses the command.
	clusterID string
}

var remoteCommandCommand = &command{
	name:    "remote_command",
	args:    "<command> [args...]",
	summary: "run a server command (meta.lb.*, replica.*, server-info, flush-log, ...) on servers; prints JSON",
	minArgs: 1, maxArgs: -1,
	// Flags end at the command name: what follows belongs to the command.
	flagsFirst: true,
	flags: []flagSpec{
		{long: "type", short: "t", kind: stringFlag, def: "all", metavar: "all|meta-server|replica-server", usage: "servers of this role"},
		{long: "node_list", short: "l", kind: stringFlag, metavar: "ADDR[,ADDR]", usage: "these servers instead of -t"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name, args := in.args[0], in.args[1:]
		if alias, ok := remoteCommandAliases[name]; ok {
			name = alias
		}
		targets, err := s.remoteTargets(ctx, in)
		if err != nil {
			return err
		}
		out := s.runRemoteAll(ctx, targets, name, args)
		if err := writeJSON(in.out, out); err != nil {
			return err
		}
		return out.err(len(targets))
	},
}

// err is the command's failure, nil when no target failed.
func (out remoteJSON) err(targets int) error {
	if out.FailedCount > 0 {
		return fmt.Errorf("%w: %q failed on %d of %d servers", ErrRemoteCommandFailed, out.Command, out.FailedCount, targets)
	}
	return nil
}

// runRemoteAll runs a command on every target at once and collects the
// answers.
func (s *Shell) runRemoteAll(ctx context.Context, targets []remoteTarget, name string, args []string) remoteJSON {
	out := remoteJSON{Command: strings.Join(append([]string{name}, args...), " "), Details: make(map[string]remoteDetail)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	forwarded, leaderAnswered := 0, false
	for _, t := range targets {
		wg.Go(func() {
			d, res := s.runRemote(ctx, t, name, args)
			mu.Lock()
			defer mu.Unlock()
			out.Details[t.addr] = d
			leaderAnswered = leaderAnswered || (t.meta && d.Acked && res != remoteForwarded)
			switch res {
			case remoteOK:
				out.SucceedCount++
			case remoteForwarded:
				forwarded++
			default:
				out.FailedCount++
			}
		})
	}
	wg.Wait()
	// A follower's forward is expected when the leader answered itself;
	// when no meta server did, nobody ran the command.
	if leaderAnswered {
		out.ForwardedCount = forwarded
	} else {
		out.FailedCount += forwarded
	}
	return out
}

// remoteTargets resolves -t and -l into servers.
func (s *Shell) remoteTargets(ctx context.Context, in *invocation) ([]remoteTarget, error) {
	if list := in.string("node_list"); list != "" {
		// Servers given by address: a known meta server gets the Meta
		// service, anything else ReplicaAdmin.
		metas := s.conns.Metas()
		if info, err := s.clusterInfo(ctx); err == nil {
			for _, m := range info.GetMetas() {
				metas = append(metas, m.GetAddress())
			}
		}
		var targets []remoteTarget
		for _, addr := range strings.Split(list, ",") {
			if addr = strings.TrimSpace(addr); addr != "" {
				targets = append(targets, remoteTarget{addr: addr, role: roleUser, meta: slices.Contains(metas, addr)})
			}
		}
		if len(targets) == 0 {
			return nil, in.cmd.usageError("empty -l")
		}
		return targets, nil
	}
	kind := in.string("type")
	if kind != "all" && kind != roleMeta && kind != roleReplica {
		return nil, in.cmd.usageError("bad -t " + kind)
	}
	var targets []remoteTarget
	if kind == "all" || kind == roleMeta {
		info, err := s.clusterInfo(ctx)
		if err != nil {
			return nil, err
		}
		metas := make([]string, 0, len(info.GetMetas()))
		for _, m := range info.GetMetas() {
			metas = append(metas, m.GetAddress())
		}
		if len(metas) == 0 {
			metas = s.conns.Metas()
		}
		for _, m := range metas {
			targets = append(targets, remoteTarget{addr: m, role: roleMeta, meta: true})
		}
	}
	if kind == "all" || kind == roleReplica {
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
			return m.ListNodes(ctx, &pb.ListNodesRequest{})
		})
		if err != nil {
			return nil, err
		}
		if err := codeError("list nodes", "", resp.GetError()); err != nil {
			return nil, err
		}
		var id string
		if info, err := s.clusterInfo(ctx); err == nil {
			id = info.GetClusterId()
		}
		for _, n := range resp.GetNodes() {
			// Like Pegasus, only the servers that are alive.
			if n.GetAlive() {
				targets = append(targets, remoteTarget{addr: n.GetAddress(), role: roleReplica, clusterID: id})
			}
		}
	}
	return targets, nil
}

// remoteResult is the outcome of a remote command on one server.
type remoteResult int

const (
	remoteOK        remoteResult = iota
	remoteFailed                 // the call failed or the server answered an error code
	remoteForwarded              // a meta follower named the leader instead
)

// runRemote runs a command on one server.
func (s *Shell) runRemote(ctx context.Context, t remoteTarget, name string, args []string) (d remoteDetail, res remoteResult) {
	req := &pb.RemoteCommandRequest{Command: name, Args: args, ClusterId: t.clusterID}
	var resp *pb.RemoteCommandResponse
	var err error
	if t.meta {
		resp, err = dial.CallServer(ctx, s.conns, t.addr, (*dial.Conns).Meta,
			func(ctx context.Context, m pb.MetaClient) (*pb.RemoteCommandResponse, error) {
				return m.RemoteCommand(ctx, req)
			})
	} else {
		resp, err = dial.CallServer(ctx, s.conns, t.addr, (*dial.Conns).ReplicaAdmin,
			func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.RemoteCommandResponse, error) {
				return r.RemoteCommand(ctx, req)
			})
	}
	d.Role = t.role
	switch code := resp.GetError().GetCode(); {
	case err != nil:
		d.Message = jsonString(err.Error())
		return d, remoteFailed
	case code == pb.ErrorCode_ERR_FORWARD_TO_OTHERS && t.meta:
		// Cluster commands run on the leader only; a follower names it.
		d.Acked = true
		d.Message = jsonString(code.String() + ": run by the leader " + resp.GetError().GetPrimary())
		return d, remoteForwarded
	case code != pb.ErrorCode_ERR_OK:
		d.Acked = true
		msg := resp.GetError().GetCode().String()
		if m := resp.GetError().GetMessage(); m != "" {
			msg += ": " + m
		}
		d.Message = jsonString(msg)
		return d, remoteFailed
	}
	d.Acked = true
	if out := strings.TrimSpace(resp.GetOutput()); out != "" && json.Valid([]byte(out)) {
		d.Message = json.RawMessage(out)
	} else {
		d.Message = jsonString(resp.GetOutput())
	}
	return d, remoteOK
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
