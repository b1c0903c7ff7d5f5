package shell

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// tableStatus returns Pegasus' word for a table status: AVAILABLE, ...
func tableStatus(s pb.TableStatus) string {
	return strings.TrimPrefix(s.String(), "AS_")
}

// lsJSON is ls' JSON form.
type lsJSON struct {
	Tables  []lsTableJSON `json:"tables"`
	Summary lsSummaryJSON `json:"summary"`
}

type lsTableJSON struct {
	Name           string `json:"name"`
	AppID          int32  `json:"app_id"`
	Status         string `json:"status"`
	PartitionCount int32  `json:"partition_count"`
	ReplicaCount   int32  `json:"replica_count"`
	FullyHealthy   int32  `json:"fully_healthy"`
	Unhealthy      int32  `json:"unhealthy"`
	WriteUnhealthy int32  `json:"write_unhealthy"`
	ReadUnhealthy  int32  `json:"read_unhealthy"`
	CreateTime     string `json:"create_time"`
	EnvsCount      int    `json:"envs_count"`
	// Unavailable says why partitions without a primary have none.
	Unavailable []unavailableJSON `json:"unavailable,omitempty"`
}

type unavailableJSON struct {
	Gpid   string `json:"gpid"`
	Reason string `json:"reason"`
}

func unavailableOf(app int32, ws []*pb.PartitionWait) []unavailableJSON {
	var out []unavailableJSON
	for _, w := range ws {
		out = append(out, unavailableJSON{Gpid: fmt.Sprintf("%d.%d", app, w.GetPartitionIndex()), Reason: w.GetReason()})
	}
	return out
}

type lsSummaryJSON struct {
	TotalAppCount          int `json:"total_app_count"`
	FullyHealthyAppCount   int `json:"fully_healthy_app_count"`
	UnhealthyAppCount      int `json:"unhealthy_app_count"`
	WriteUnhealthyAppCount int `json:"write_unhealthy_app_count"`
	ReadUnhealthyAppCount  int `json:"read_unhealthy_app_count"`
}

var lsCommand = &command{
	name:    "ls",
	summary: "list the tables (-d: partition health)",
	json:    true,
	flags: []flagSpec{
		{long: "detailed", short: "d", kind: boolFlag, usage: "show how many partitions are healthy"},
		{long: "all", short: "a", kind: boolFlag, usage: "include dropped tables"},
		{long: "status", short: "s", kind: stringFlag, def: "all", metavar: "all|available|creating|dropping|dropped", usage: "show only tables of this status"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		filter := strings.ToUpper(in.string("status"))
		if !slices.Contains([]string{"ALL", "AVAILABLE", "CREATING", "DROPPING", "DROPPED"}, filter) {
			return in.cmd.usageError("bad -s " + strconv.Quote(in.string("status")))
		}
		tables, err := s.listTables(ctx)
		if err != nil {
			return err
		}
		out := lsJSON{Tables: []lsTableJSON{}}
		for _, th := range tables {
			t := th.GetTable()
			status := tableStatus(t.GetStatus())
			if (filter == "ALL" && status == "DROPPED" && !in.bool("all")) || (filter != "ALL" && status != filter) {
				continue
			}
			out.Tables = append(out.Tables, lsTableJSON{
				Name: t.GetName(), AppID: t.GetAppId(), Status: status,
				PartitionCount: t.GetPartitionCount(), ReplicaCount: t.GetReplicaCount(),
				FullyHealthy: th.GetFullyHealthy(), Unhealthy: th.GetUnhealthy(),
				WriteUnhealthy: th.GetWriteUnhealthy(), ReadUnhealthy: th.GetReadUnhealthy(),
				CreateTime: s.formatTime(t.GetCreateTimeMs()), EnvsCount: len(t.GetEnvs()),
				Unavailable: unavailableOf(t.GetAppId(), th.GetWaits()),
			})
		}
		sum := &out.Summary
		sum.TotalAppCount = len(out.Tables)
		for _, t := range out.Tables {
			switch {
			case t.FullyHealthy == t.PartitionCount:
				sum.FullyHealthyAppCount++
			default:
				sum.UnhealthyAppCount++
			}
			sum.WriteUnhealthyAppCount += b2i(t.WriteUnhealthy > 0)
			sum.ReadUnhealthyAppCount += b2i(t.ReadUnhealthy > 0)
		}
		if in.json {
			return writeJSON(in.out, out)
		}

		p := in.printer()
		rows := make([][]string, 0, len(out.Tables))
		for _, t := range out.Tables {
			rows = append(rows, []string{itoa(t.AppID), t.Status, t.Name, "pegasus", itoa(t.PartitionCount), itoa(t.ReplicaCount),
				"true", t.CreateTime, "-", "-", strconv.Itoa(t.EnvsCount)})
		}
		p.table("general_info", []string{"app_id", "status", "app_name", "app_type", "partition_count", "replica_count",
			"is_stateful", "create_time", "drop_time", "drop_expire", "envs_count"}, rows)
		summary := []pair{{"total_app_count", strconv.Itoa(sum.TotalAppCount)}}
		if in.bool("detailed") {
			rows = rows[:0]
			for _, t := range out.Tables {
				rows = append(rows, []string{itoa(t.AppID), t.Name, itoa(t.PartitionCount), itoa(t.FullyHealthy),
					itoa(t.Unhealthy), itoa(t.WriteUnhealthy), itoa(t.ReadUnhealthy)})
			}
			// Column order matters: Pegasus' scripts compare $3
			// (partition_count) with $4 (fully_healthy).
			p.table("healthy_info", []string{"app_id", "app_name", "partition_count", "fully_healthy", "unhealthy",
				"write_unhealthy", "read_unhealthy"}, rows)
			// Why partitions are unavailable, in a section of its own so
			// that scripts parsing healthy_info see the columns they know.
			rows = rows[:0]
			for _, t := range out.Tables {
				for _, u := range t.Unavailable {
					rows = append(rows, []string{u.Gpid, t.Name, u.Reason})
				}
			}
			if len(rows) > 0 {
				p.table("unavailable", []string{"gpid", "app_name", "reason"}, rows)
			}
			summary = append(summary,
				pair{"fully_healthy_app_count", strconv.Itoa(sum.FullyHealthyAppCount)},
				pair{"unhealthy_app_count", strconv.Itoa(sum.UnhealthyAppCount)},
				pair{"write_unhealthy_app_count", strconv.Itoa(sum.WriteUnhealthyAppCount)},
				pair{"read_unhealthy_app_count", strconv.Itoa(sum.ReadUnhealthyAppCount)})
		}
		p.pairs("summary", summary)
		return nil
	},
}

// listTables returns every table with its health, by app id.
func (s *Shell) listTables(ctx context.Context) ([]*pb.TableHealth, error) {
	resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
		return m.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if err := codeError("list apps", "", resp.GetError()); err != nil {
		return nil, err
	}
	tables := slices.Clone(resp.GetTables())
	sort.Slice(tables, func(i, j int) bool { return tables[i].GetTable().GetAppId() < tables[j].GetTable().GetAppId() })
	return tables, nil
}

// queryConfig returns a table's partition configurations, by index.
func (s *Shell) queryConfig(ctx context.Context, table string) (*pb.QueryConfigResponse, error) {
	resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: table})
	})
	if err != nil {
		return nil, err
	}
	if err := codeError("query config of "+strconv.Quote(table), table, resp.GetError()); err != nil {
		return nil, err
	}
	sort.Slice(resp.Partitions, func(i, j int) bool {
		return resp.Partitions[i].GetGpid().GetPartitionIndex() < resp.Partitions[j].GetGpid().GetPartitionIndex()
	})
	return resp, nil
}

// appJSON is app's JSON form; the partition sections come with -d.
type appJSON struct {
	General     appGeneralJSON    `json:"general"`
	Replicas    []appReplicaJSON  `json:"replicas,omitempty"`
	Nodes       []appNodeJSON     `json:"nodes,omitempty"`
	Healthy     *healthCounts     `json:"healthy,omitempty"`
	Unavailable []unavailableJSON `json:"unavailable,omitempty"`
}

type appGeneralJSON struct {
	AppName         string            `json:"app_name"`
	AppID           int32             `json:"app_id"`
	Status          string            `json:"status"`
	PartitionCount  int32             `json:"partition_count"`
	MaxReplicaCount int32             `json:"max_replica_count"`
	Envs            map[string]string `json:"envs"`
}

type appReplicaJSON struct {
	Pidx            int32    `json:"pidx"`
	Ballot          int64    `json:"ballot"`
	ReplicaCount    int      `json:"replica_count"`
	MaxReplicaCount int32    `json:"max_replica_count"`
	Primary         string   `json:"primary"`
	Secondaries     []string `json:"secondaries"`
}

type appNodeJSON struct {
	Node      string `json:"node"`
	Primary   int    `json:"primary"`
	Secondary int    `json:"secondary"`
	Total     int    `json:"total"`
}

var appCommand = &command{
	name:    "app",
	args:    "<table>",
	summary: "show a table (-d: every partition's replicas, per-node counts, health)",
	json:    true,
	minArgs: 1, maxArgs: 1,
	flags: []flagSpec{
		{long: "detailed", short: "d", kind: boolFlag, usage: "show partitions, nodes and health"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name := in.args[0]
		resp, err := s.queryConfig(ctx, name)
		if err != nil {
			return err
		}
		t := resp.GetTable()
		out := appJSON{General: appGeneralJSON{
			AppName: name, AppID: t.GetAppId(), Status: tableStatus(t.GetStatus()),
			PartitionCount: t.GetPartitionCount(), MaxReplicaCount: t.GetReplicaCount(), Envs: t.GetEnvs(),
		}}
		if out.General.Envs == nil {
			out.General.Envs = map[string]string{}
		}
		detailed := in.bool("detailed")
		if detailed {
			perNode := make(map[string]*appNodeJSON)
			node := func(addr string) *appNodeJSON {
				if perNode[addr] == nil {
					perNode[addr] = &appNodeJSON{Node: addr}
				}
				return perNode[addr]
			}
			out.Replicas = []appReplicaJSON{}
			for _, pc := range resp.GetPartitions() {
				r := appReplicaJSON{
					Pidx: pc.GetGpid().GetPartitionIndex(), Ballot: pc.GetBallot(), Primary: pc.GetPrimary(),
					Secondaries: append([]string{}, pc.GetSecondaries()...), MaxReplicaCount: pc.GetMaxReplicaCount(),
					ReplicaCount: len(pc.GetSecondaries()),
				}
				if pc.GetPrimary() != "" {
					r.ReplicaCount++
					node(pc.GetPrimary()).Primary++
				}
				for _, sec := range pc.GetSecondaries() {
					node(sec).Secondary++
				}
				out.Replicas = append(out.Replicas, r)
			}
			out.Nodes = []appNodeJSON{}
			for _, addr := range slices.Sorted(maps.Keys(perNode)) {
				n := perNode[addr]
				n.Total = n.Primary + n.Secondary
				out.Nodes = append(out.Nodes, *n)
			}
			h := countHealth(resp.GetPartitions())
			out.Healthy = &h
			out.Unavailable = unavailableOf(t.GetAppId(), resp.GetWaits())
		}
		if in.json {
			return writeJSON(in.out, out)
		}

		p := in.printer()
		p.pairs("parameters", []pair{{"app_name", name}, {"detailed", strconv.FormatBool(detailed)}})
		p.pairs("general", []pair{
			{"app_name", name},
			{"app_id", itoa(out.General.AppID)},
			{"partition_count", itoa(out.General.PartitionCount)},
			{"max_replica_count", itoa(out.General.MaxReplicaCount)},
		})
		if !detailed {
			return nil
		}
		rows := make([][]string, 0, len(out.Replicas))
		for _, r := range out.Replicas {
			rows = append(rows, []string{itoa(r.Pidx), strconv.FormatInt(r.Ballot, 10),
				fmt.Sprintf("%d/%d", r.ReplicaCount, r.MaxReplicaCount), orDash(r.Primary), "[" + strings.Join(r.Secondaries, ",") + "]"})
		}
		p.table("replicas", []string{"pidx", "ballot", "replica_count", "primary", "secondaries"}, rows)
		rows = rows[:0]
		var total appNodeJSON
		for _, n := range out.Nodes {
			rows = append(rows, []string{n.Node, strconv.Itoa(n.Primary), strconv.Itoa(n.Secondary), strconv.Itoa(n.Total)})
			total.Primary += n.Primary
			total.Secondary += n.Secondary
			total.Total += n.Total
		}
		rows = append(rows, []string{"total", strconv.Itoa(total.Primary), strconv.Itoa(total.Secondary), strconv.Itoa(total.Total)})
		p.table("nodes", []string{"node", "primary", "secondary", "total"}, rows)
		p.pairs("healthy", []pair{
			{"fully_healthy_partition_count", strconv.Itoa(out.Healthy.FullyHealthy)},
			{"unhealthy_partition_count", strconv.Itoa(out.Healthy.Unhealthy)},
			{"write_unhealthy_partition_count", strconv.Itoa(out.Healthy.WriteUnhealthy)},
			{"read_unhealthy_partition_count", strconv.Itoa(out.Healthy.ReadUnhealthy)},
		})
		if len(out.Unavailable) > 0 {
			rows = rows[:0]
			for _, u := range out.Unavailable {
				rows = append(rows, []string{u.Gpid, u.Reason})
			}
			p.table("unavailable", []string{"gpid", "reason"}, rows)
		}
		return nil
	},
}

// queryConfigJSON is query_config's JSON form.
type queryConfigJSON struct {
	Table      appGeneralJSON  `json:"table"`
	Partitions []partitionJSON `json:"partitions"`
}

type partitionJSON struct {
	Pidx                int32    `json:"pidx"`
	Ballot              int64    `json:"ballot"`
	MaxReplicaCount     int32    `json:"max_replica_count"`
	Primary             string   `json:"primary"`
	Secondaries         []string `json:"secondaries"`
	LastDrops           []string `json:"last_drops"`
	LastCommittedDecree int64    `json:"last_committed_decree"`
	Learners            []string `json:"learners"`
}

var queryConfigCommand = &command{
	name:    "query_config",
	args:    "<table>",
	summary: "show every partition configuration of a table: ballot, members, last_drops, decree",
	json:    true,
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name := in.args[0]
		resp, err := s.queryConfig(ctx, name)
		if err != nil {
			return err
		}
		t := resp.GetTable()
		out := queryConfigJSON{
			Table: appGeneralJSON{AppName: name, AppID: t.GetAppId(), Status: tableStatus(t.GetStatus()),
				PartitionCount: t.GetPartitionCount(), MaxReplicaCount: t.GetReplicaCount(), Envs: t.GetEnvs()},
			Partitions: []partitionJSON{},
		}
		if out.Table.Envs == nil {
			out.Table.Envs = map[string]string{}
		}
		for _, pc := range resp.GetPartitions() {
			out.Partitions = append(out.Partitions, partitionJSON{
				Pidx: pc.GetGpid().GetPartitionIndex(), Ballot: pc.GetBallot(), MaxReplicaCount: pc.GetMaxReplicaCount(),
				Primary: pc.GetPrimary(), Secondaries: append([]string{}, pc.GetSecondaries()...),
				LastDrops: append([]string{}, pc.GetLastDrops()...), LastCommittedDecree: pc.GetLastCommittedDecree(),
				Learners: append([]string{}, pc.GetLearners()...),
			})
		}
		if in.json {
			return writeJSON(in.out, out)
		}
		p := in.printer()
		p.pairs("general", []pair{
			{"app_name", name},
			{"app_id", itoa(out.Table.AppID)},
			{"status", out.Table.Status},
			{"partition_count", itoa(out.Table.PartitionCount)},
			{"max_replica_count", itoa(out.Table.MaxReplicaCount)},
		})
		rows := make([][]string, 0, len(out.Partitions))
		for _, pc := range out.Partitions {
			rows = append(rows, []string{fmt.Sprintf("%d.%d", out.Table.AppID, pc.Pidx), strconv.FormatInt(pc.Ballot, 10),
				orDash(pc.Primary), "[" + strings.Join(pc.Secondaries, ",") + "]", "[" + strings.Join(pc.LastDrops, ",") + "]",
				strconv.FormatInt(pc.LastCommittedDecree, 10), "[" + strings.Join(pc.Learners, ",") + "]"})
		}
		p.table("partitions", []string{"gpid", "ballot", "primary", "secondaries", "last_drops", "last_committed_decree", "learners"}, rows)
		return nil
	},
}

var createCommand = &command{
	name:    "create",
	args:    "<table>",
	summary: "create a table and wait until every partition is fully healthy",
	minArgs: 1, maxArgs: 1,
	flags: []flagSpec{
		{long: "partition_count", short: "p", kind: intFlag, def: "4", metavar: "N", usage: "partitions (a power of two)"},
		{long: "replica_count", short: "r", kind: intFlag, def: "3", metavar: "N", usage: "replicas of each partition"},
		{long: "envs", short: "e", kind: stringFlag, metavar: "k=v,...", usage: "table environment variables"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name := in.args[0]
		pc, rc := in.int("partition_count"), in.int("replica_count")
		if pc < 1 || rc < 1 {
			return in.cmd.usageError("partition and replica counts must be positive")
		}
		envs, err := parseEnvs(in.string("envs"))
		if err != nil {
			return in.cmd.usageError(err.Error())
		}
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
			return m.CreateTable(ctx, &pb.CreateTableRequest{Name: name, PartitionCount: int32(pc), ReplicaCount: int32(rc), Envs: envs})
		})
		if err != nil {
			return err
		}
		if err := codeError("create app "+strconv.Quote(name), name, resp.GetError()); err != nil {
			return err
		}
		fmt.Fprintf(in.out, "create app %q succeed, waiting for app ready\n", name)
		return s.waitTableReady(ctx, in, name)
	},
}

// waitTableReady polls the table's health until every partition is fully
// healthy, printing progress when it changes.
func (s *Shell) waitTableReady(ctx context.Context, in *invocation, name string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CreateTimeout)
	defer cancel()
	last, total := -1, 0
	for {
		tables, err := s.listTables(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		for _, th := range tables {
			if th.GetTable().GetName() != name {
				continue
			}
			healthy, n := int(th.GetFullyHealthy()), int(th.GetTable().GetPartitionCount())
			total = n
			if healthy == n && th.GetTable().GetStatus() == pb.TableStatus_AS_AVAILABLE {
				fmt.Fprintf(in.out, "%s is ready now: (%d/%d)\n", name, healthy, n)
				return nil
			}
			if healthy != last {
				fmt.Fprintf(in.out, "%s not ready yet, still waiting... (%d/%d)\n", name, healthy, n)
				last = healthy
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %q after %s (%d/%d partitions fully healthy)", ErrNotReady, name, s.cfg.CreateTimeout, max(last, 0), total)
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// parseEnvs reads k1=v1,k2=v2.
func parseEnvs(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	envs := make(map[string]string)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("bad env %q, want key=value", kv)
		}
		envs[k] = v
	}
	return envs, nil
}

var dropCommand = &command{
	name:    "drop",
	args:    "<table>",
	summary: "drop a table",
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name := in.args[0]
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.DropTableResponse, error) {
			return m.DropTable(ctx, &pb.DropTableRequest{Name: name})
		})
		if err != nil {
			return err
		}
		if err := codeError("drop app "+strconv.Quote(name), name, resp.GetError()); err != nil {
			return err
		}
		if s.tableName == name {
			s.tableName, s.table = "", nil
		}
		fmt.Fprintf(in.out, "drop app %s succeed\n", name)
		return nil
	},
}

// formatTime renders a Unix millisecond time as Pegasus does, or "-".
func (s *Shell) formatTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).In(s.cfg.Location).Format("2006-01-02_15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
