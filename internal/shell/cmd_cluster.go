package shell

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Node status words, as Pegasus prints them.
const (
	statusAlive   = "ALIVE"
	statusUnalive = "UNALIVE"
)

// metaLevels are the meta function levels set_meta_level accepts, lowest
// first.
var metaLevels = []string{"stopped", "blind", "freezed", "steady", "lively"}

// levelNames returns a meta level's short name (steady) and its Pegasus
// enum name (fl_steady), whichever of the two the server sent.
func levelNames(level string) (short, full string) {
	short = strings.TrimPrefix(level, "fl_")
	if short == "" {
		return "", ""
	}
	return short, "fl_" + short
}

// clusterInfoJSON is cluster_info's JSON form.
type clusterInfoJSON struct {
	MetaServers               []string       `json:"meta_servers"`
	PrimaryMetaServer         string         `json:"primary_meta_server"`
	EtcdEndpoints             string         `json:"etcd_endpoints"`
	MetaFunctionLevel         string         `json:"meta_function_level"`
	BalanceOperationCount     int32          `json:"balance_operation_count"`
	PrimaryReplicaCountStddev float64        `json:"primary_replica_count_stddev"`
	TotalReplicaCountStddev   float64        `json:"total_replica_count_stddev"`
	ClusterName               string         `json:"cluster_name"`
	ClusterID                 string         `json:"cluster_id"`
	Metas                     []metaInfoJSON `json:"metas"`
	KnobOverrides             []knobJSON     `json:"knob_overrides,omitempty"`
}

// knobJSON is a knob overriding the configuration file: who set it, and
// when it lapses unless set again (unix ms, 0 for never).
type knobJSON struct {
	Knob      string `json:"knob"`
	Value     string `json:"value"`
	Owner     string `json:"owner,omitempty"`
	ExpiresMS int64  `json:"expires_ms,omitempty"`
}

type metaInfoJSON struct {
	Address             string `json:"address"`
	Leader              bool   `json:"leader"`
	HTTPAddress         string `json:"http_address"`
	PegasusAddress      string `json:"pegasus_address"`
	ProtocolVersion     string `json:"protocol_version"`
	BeaconsReceivedFrom int32  `json:"beacons_received_from"`
}

var clusterInfoCommand = &command{
	name:    "cluster_info",
	summary: "show the meta servers, the leader, the meta level and balance figures",
	json:    true,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		resp, err := s.clusterInfo(ctx)
		if err != nil {
			return err
		}
		metas := make([]string, 0, len(resp.GetMetas()))
		infos := make([]metaInfoJSON, 0, len(resp.GetMetas()))
		for _, m := range resp.GetMetas() {
			metas = append(metas, m.GetAddress())
			infos = append(infos, metaInfoJSON{
				Address: m.GetAddress(), Leader: m.GetLeader(), HTTPAddress: m.GetHttpAddress(),
				PegasusAddress: m.GetPegasusAddress(), ProtocolVersion: m.GetProtocolVersion(),
				BeaconsReceivedFrom: m.GetBeaconsReceivedFrom(),
			})
		}
		if len(metas) == 0 {
			metas = s.conns.Metas()
		}
		level, _ := levelNames(resp.GetMetaFunctionLevel())
		var knobs []knobJSON
		var knobText []string
		for _, k := range resp.GetKnobOverrides() {
			knobs = append(knobs, knobJSON{Knob: k.GetKnob(), Value: k.GetValue(), Owner: k.GetOwner(), ExpiresMS: k.GetExpiresMs()})
			text := k.GetKnob() + "=" + k.GetValue()
			var by []string
			if o := k.GetOwner(); o != "" {
				by = append(by, "by "+o)
			}
			if ms := k.GetExpiresMs(); ms > 0 {
				by = append(by, "until "+time.UnixMilli(ms).In(s.cfg.Location).Format(time.DateTime))
			}
			if len(by) > 0 {
				text += " (" + strings.Join(by, ", ") + ")"
			}
			knobText = append(knobText, text)
		}
		if in.json {
			return writeJSON(in.out, clusterInfoJSON{
				MetaServers: metas, PrimaryMetaServer: resp.GetLeader(), EtcdEndpoints: resp.GetEtcdEndpoints(),
				MetaFunctionLevel: level, BalanceOperationCount: resp.GetBalanceOperationCount(),
				PrimaryReplicaCountStddev: resp.GetPrimaryReplicaCountStddev(), TotalReplicaCountStddev: resp.GetTotalReplicaCountStddev(),
				ClusterName: resp.GetClusterName(), ClusterID: resp.GetClusterId(), Metas: infos, KnobOverrides: knobs,
			})
		}
		in.printer().pairs("cluster_info", []pair{
			{"meta_servers", strings.Join(metas, ",")},
			{"primary_meta_server", resp.GetLeader()},
			{"etcd_endpoints", resp.GetEtcdEndpoints()},
			{"meta_function_level", level},
			// Pegasus' rebalance script parses total=N.
			{"balance_operation_count", "total=" + strconv.Itoa(int(resp.GetBalanceOperationCount()))},
			{"primary_replica_count_stddev", strconv.FormatFloat(resp.GetPrimaryReplicaCountStddev(), 'f', 2, 64)},
			{"total_replica_count_stddev", strconv.FormatFloat(resp.GetTotalReplicaCountStddev(), 'f', 2, 64)},
			{"cluster_name", resp.GetClusterName()},
			{"cluster_id", resp.GetClusterId()},
			// Knobs set at runtime shadow the configuration file until
			// reset with DEFAULT: an operator should see them.
			{"knob_overrides", strings.Join(knobText, "; ")},
		})
		return nil
	},
}

func (s *Shell) clusterInfo(ctx context.Context) (*pb.ClusterInfoResponse, error) {
	resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil {
		return nil, err
	}
	return resp, codeError("cluster_info", "", resp.GetError())
}

// nodesJSON is nodes' JSON form.
type nodesJSON struct {
	Nodes   []nodeJSON       `json:"nodes"`
	Summary nodesSummaryJSON `json:"summary"`
}

type nodeJSON struct {
	Address        string `json:"address"`
	Status         string `json:"status"`
	PrimaryCount   int32  `json:"primary_count"`
	SecondaryCount int32  `json:"secondary_count"`
	ReplicaCount   int32  `json:"replica_count"`
	Zone           string `json:"zone,omitempty"`
}

type nodesSummaryJSON struct {
	TotalNodeCount   int `json:"total_node_count"`
	AliveNodeCount   int `json:"alive_node_count"`
	UnaliveNodeCount int `json:"unalive_node_count"`
}

var nodesCommand = &command{
	name:    "nodes",
	summary: "list the replica servers and their status (-d: replica counts)",
	json:    true,
	flags: []flagSpec{
		{long: "detailed", short: "d", kind: boolFlag, usage: "show replica, primary and secondary counts"},
		{long: "status", short: "s", kind: stringFlag, def: "all", metavar: "all|alive|unalive", usage: "show only nodes of this status"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		filter := in.string("status")
		if !slices.Contains([]string{"all", "alive", "unalive"}, filter) {
			return in.cmd.usageError("bad -s " + strconv.Quote(filter))
		}
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
			return m.ListNodes(ctx, &pb.ListNodesRequest{})
		})
		if err != nil {
			return err
		}
		if err := codeError("list nodes", "", resp.GetError()); err != nil {
			return err
		}
		nodes := slices.Clone(resp.GetNodes())
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetAddress() < nodes[j].GetAddress() })
		var out nodesJSON
		out.Nodes = []nodeJSON{}
		for _, n := range nodes {
			if n.GetAlive() {
				out.Summary.AliveNodeCount++
			} else {
				out.Summary.UnaliveNodeCount++
			}
			if (filter == "alive" && !n.GetAlive()) || (filter == "unalive" && n.GetAlive()) {
				continue
			}
			status := statusAlive
			if !n.GetAlive() {
				status = statusUnalive
			}
			out.Nodes = append(out.Nodes, nodeJSON{
				Address: n.GetAddress(), Status: status,
				PrimaryCount: n.GetPrimaryCount(), SecondaryCount: n.GetSecondaryCount(), ReplicaCount: n.GetReplicaCount(),
				Zone: n.GetZone(),
			})
		}
		out.Summary.TotalNodeCount = len(nodes)
		if in.json {
			return writeJSON(in.out, out)
		}
		// The zone column appears once a server names its zone.
		zones := slices.ContainsFunc(out.Nodes, func(n nodeJSON) bool { return n.Zone != "" })
		header := []string{"address", "status"}
		if in.bool("detailed") {
			header = append(header, "replica_count", "primary_count", "secondary_count")
			if zones {
				header = append(header, "zone")
			}
		}
		rows := make([][]string, 0, len(out.Nodes))
		for _, n := range out.Nodes {
			row := []string{n.Address, n.Status}
			if in.bool("detailed") {
				row = append(row, itoa(n.ReplicaCount), itoa(n.PrimaryCount), itoa(n.SecondaryCount))
				if zones {
					row = append(row, n.Zone)
				}
			}
			rows = append(rows, row)
		}
		p := in.printer()
		p.table("details", header, rows)
		p.pairs("summary", []pair{
			{"total_node_count", strconv.Itoa(out.Summary.TotalNodeCount)},
			{"alive_node_count", strconv.Itoa(out.Summary.AliveNodeCount)},
			{"unalive_node_count", strconv.Itoa(out.Summary.UnaliveNodeCount)},
		})
		return nil
	},
}

var getMetaLevelCommand = &command{
	name:    "get_meta_level",
	summary: "show the meta function level",
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		resp, err := s.metaLevel(ctx, "")
		if err != nil {
			return fmt.Errorf("get meta level: %w", err)
		}
		_, full := levelNames(resp.GetLevel())
		fmt.Fprintf(in.out, "current meta level is %s\n", full)
		return nil
	},
}

var setMetaLevelCommand = &command{
	name:    "set_meta_level",
	args:    "<stopped|blind|freezed|steady|lively>",
	summary: "set the meta function level (steady: cure only; lively: also balance)",
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		level, _ := levelNames(in.args[0])
		if !slices.Contains(metaLevels, level) {
			return in.cmd.usageError("unknown level " + strconv.Quote(in.args[0]))
		}
		resp, err := s.metaLevel(ctx, level)
		if err != nil {
			return fmt.Errorf("control meta level: %w", err)
		}
		_, old := levelNames(resp.GetOldLevel())
		fmt.Fprintf(in.out, "control meta level ok, the old level is %s\n", old)
		return nil
	},
}

func (s *Shell) metaLevel(ctx context.Context, level string) (*pb.MetaLevelResponse, error) {
	resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.MetaLevelResponse, error) {
		return m.MetaLevel(ctx, &pb.MetaLevelRequest{Level: level})
	})
	if err != nil {
		return nil, err
	}
	if e := resp.GetError(); e.GetCode() != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("%w: control meta level got error %s %s", ErrServer, e.GetCode(), e.GetMessage())
	}
	return resp, nil
}

// drainJSON is the JSON form of migrate_node and downgrade_node.
type drainJSON struct {
	Node      string   `json:"node"`
	Test      bool     `json:"test,omitempty"`
	Proposals []string `json:"proposals"`
}

// drainCommand builds migrate_node and downgrade_node, which differ only
// in the RPC and in what "nothing to do" means. The flags are those of
// the Pegasus rolling-restart guide, so its command lines paste
// unchanged: -c names the cluster's meta servers (default: the shell's),
// -t test prints what would move and changes nothing, -a limits the
// drain to one table.
func drainCommand(name, summary, nothing string, rpc func(pb.MetaClient, context.Context, *pb.DrainNodeRequest, ...grpc.CallOption) (*pb.DrainNodeResponse, error)) *command {
	return &command{
		name:    name,
		summary: summary,
		json:    true,
		flags: []flagSpec{
			{long: "node", short: "n", kind: stringFlag, metavar: "ADDR", required: true, usage: "the replica server"},
			{long: "cluster", short: "c", kind: stringFlag, metavar: "METAS", usage: "the meta servers, comma separated (default: the shell's)"},
			{long: "type", short: "t", kind: stringFlag, metavar: "run|test", def: "run", usage: "run: do it; test: print what would move"},
			{long: "app", short: "a", kind: stringFlag, metavar: "TABLE", usage: "only the partitions of this table"},
		},
		run: func(ctx context.Context, s *Shell, in *invocation) error {
			node := in.string("node")
			test := false
			switch t := in.string("type"); t {
			case "run":
			case "test":
				test = true
			default:
				return in.cmd.usageError(fmt.Sprintf("-t is run or test, not %q", t))
			}
			target := s
			if list := in.string("cluster"); list != "" {
				other, err := s.withMetas(strings.Split(list, ","))
				if err != nil {
					return err
				}
				defer other.conns.Close()
				target = other
			}
			req := &pb.DrainNodeRequest{Node: node, DryRun: test, Table: in.string("app")}
			resp, err := callMeta(ctx, target, func(ctx context.Context, m pb.MetaClient) (*pb.DrainNodeResponse, error) {
				return rpc(m, ctx, req)
			})
			if err != nil {
				return err
			}
			if err := codeError(name+" "+node, req.GetTable(), resp.GetError()); err != nil {
				return err
			}
			props := resp.GetProposals()
			if in.json {
				return writeJSON(in.out, drainJSON{Node: node, Test: test, Proposals: append([]string{}, props...)})
			}
			for _, p := range props {
				fmt.Fprintln(in.out, p)
			}
			switch {
			case len(props) == 0:
				fmt.Fprintf(in.out, "%s: %s %s\n", name, nothing, node)
			case test:
				fmt.Fprintf(in.out, "%s -t test: %d would be proposed, nothing changed\n", name, len(props))
			}
			return nil
		},
	}
}

// balanceJSON is the JSON form of balance.
type balanceJSON struct {
	Gpid      string   `json:"gpid"`
	Type      string   `json:"type"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Proposals []string `json:"proposals"`
}

// balanceCommand is Pegasus' `balance -g <gpid> -p <type> -f <from> -t
// <to>`: one proposal to the meta server. move_pri hands the primary to a
// secondary at once; copy_sec adds the target as a learner beyond
// max_replica_count and the meta server removes the source once the target
// is a secondary (at level steady or lively).
var balanceCommand = &command{
	name:    "balance",
	summary: "move one replica: move_pri hands a primary to a secondary, copy_sec copies a secondary to another node then removes the source",
	json:    true,
	flags: []flagSpec{
		{long: "gpid", short: "g", kind: stringFlag, metavar: "APP_ID.PIDX", required: true, usage: "the partition"},
		{long: "type", short: "p", kind: stringFlag, metavar: "move_pri|copy_sec", required: true, usage: "what to move"},
		{long: "from", short: "f", kind: stringFlag, metavar: "ADDR", required: true, usage: "the node it moves from"},
		{long: "to", short: "t", kind: stringFlag, metavar: "ADDR", required: true, usage: "the node it moves to"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		gpid, kind := in.string("gpid"), in.string("type")
		app, idx, ok := strings.Cut(gpid, ".")
		a, err1 := strconv.ParseInt(app, 10, 32)
		i, err2 := strconv.ParseInt(idx, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return in.cmd.usageError(fmt.Sprintf("-g is APP_ID.PIDX, not %q", gpid))
		}
		switch kind {
		case "move_pri", "copy_sec":
		case "copy_pri":
			return in.cmd.usageError("copy_pri is not supported: move the primary with move_pri, then copy it as a secondary with copy_sec")
		default:
			return in.cmd.usageError(fmt.Sprintf("-p is move_pri or copy_sec, not %q", kind))
		}
		req := &pb.BalanceRequest{Gpid: &pb.Gpid{AppId: int32(a), PartitionIndex: int32(i)}, Type: kind,
			From: in.string("from"), To: in.string("to")}
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.BalanceResponse, error) {
			return m.Balance(ctx, req)
		})
		if err != nil {
			return err
		}
		if err := codeError("send balance proposal", "", resp.GetError()); err != nil {
			return err
		}
		if in.json {
			return writeJSON(in.out, balanceJSON{Gpid: gpid, Type: kind, From: req.GetFrom(), To: req.GetTo(),
				Proposals: append([]string{}, resp.GetProposals()...)})
		}
		for _, p := range resp.GetProposals() {
			fmt.Fprintln(in.out, p)
		}
		fmt.Fprintln(in.out, "send balance proposal result: ERR_OK")
		return nil
	},
}

var migrateNodeCommand = drainCommand("migrate_node",
	"move every primary replica off a replica server (to one of its secondaries)",
	"no primary replica on", pb.MetaClient.MigrateNode)

var downgradeNodeCommand = drainCommand("downgrade_node",
	"downgrade every secondary replica of a replica server to inactive",
	"no secondary replica on", pb.MetaClient.DowngradeNode)

func itoa(n int32) string { return strconv.Itoa(int(n)) }
