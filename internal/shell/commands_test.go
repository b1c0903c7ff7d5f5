package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestCommands runs shell sessions against a fake meta server and a fake
// data client and compares the output with testdata/*.txt (regenerate with
// -rewrite). Directives set up the fake cluster:
//
//	cluster leader=A metas=A,B etcd=URL name=N balance=N pstddev=F tstddev=F
//	knob NAME value=V [owner=O] [expires=UNIXMS]   (an override cluster_info reports)
//	node ADDR [alive=false] [primaries=N] [secondaries=N]
//	table NAME id=N partitions=N replicas=N [status=S] [healthy=N] [unhealthy=N]
//	      [write_unhealthy=N] [read_unhealthy=N] [created=UNIXMS] [envs=k=v]
//	partition TABLE PIDX ballot=N [primary=A] [secondaries=A,B] [last_drops=A] [decree=N] [learners=A]
//	drain migrate|downgrade NODE   (input: the proposal lines the meta answers)
//	unavailable TABLE PIDX         (input: why the partition has no primary)
//	calls                          (prints the fake meta's calls since the last calls, and forgets them)
//	data-table NAME                (a table the data commands can use)
//	exec                           (input: one command per line, $META standing for the fake meta
//	                                server's address; prints >>> cmd, then its output)
func TestCommands(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		meta := startFakeMeta(t)
		data := newFakeData()
		sh, out := newTestShell(t, data, meta.addr)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "exec" {
				var b strings.Builder
				for _, line := range splitLines(d.Input) {
					out.Reset()
					err := sh.Exec(context.Background(), strings.ReplaceAll(line, "$META", meta.addr))
					fmt.Fprintf(&b, ">>> %s\n%s", line, out.String())
					if err != nil {
						fmt.Fprintf(&b, "ERROR: %v\n", err)
					}
				}
				return b.String()
			}
			// Every other directive sets up the fakes.
			args := argMap(d)
			meta.mu.Lock()
			defer meta.mu.Unlock()
			switch d.Cmd {
			case "cluster":
				meta.info = &pb.ClusterInfoResponse{
					Leader:                    args["leader"],
					EtcdEndpoints:             args["etcd"],
					ClusterName:               args["name"],
					ClusterId:                 args["id"],
					BalanceOperationCount:     int32(atoi(t, args["balance"])),
					PrimaryReplicaCountStddev: atof(t, args["pstddev"]),
					TotalReplicaCountStddev:   atof(t, args["tstddev"]),
				}
				for _, m := range splitList(args["metas"]) {
					meta.info.Metas = append(meta.info.Metas, &pb.MetaServerInfo{Address: m, Leader: m == args["leader"]})
				}
				return ""
			case "knob":
				expires, _ := strconv.ParseInt(args["expires"], 10, 64)
				meta.info.KnobOverrides = append(meta.info.KnobOverrides, &pb.KnobOverride{Knob: d.CmdArgs[0].Key,
					Value: args["value"], Owner: args["owner"], ExpiresMs: expires})
				return ""
			case "node":
				p, s := int32(atoi(t, args["primaries"])), int32(atoi(t, args["secondaries"]))
				meta.nodes = append(meta.nodes, &pb.NodeInfo{Address: d.CmdArgs[0].Key, Alive: args["alive"] != "false",
					PrimaryCount: p, SecondaryCount: s, ReplicaCount: p + s})
				return ""
			case "table":
				status := pb.TableStatus_AS_AVAILABLE
				if s, ok := args["status"]; ok {
					status = pb.TableStatus(pb.TableStatus_value["AS_"+strings.ToUpper(s)])
				}
				info := &pb.TableInfo{Name: d.CmdArgs[0].Key, AppId: int32(atoi(t, args["id"])),
					PartitionCount: int32(atoi(t, args["partitions"])), ReplicaCount: int32(atoi(t, args["replicas"])),
					Status: status, CreateTimeMs: int64(atoi(t, args["created"]))}
				if kv := args["envs"]; kv != "" {
					info.Envs, _ = parseEnvs(kv)
				}
				meta.tables[info.Name] = &fakeTable{health: &pb.TableHealth{Table: info,
					FullyHealthy: int32(atoi(t, args["healthy"])), Unhealthy: int32(atoi(t, args["unhealthy"])),
					WriteUnhealthy: int32(atoi(t, args["write_unhealthy"])), ReadUnhealthy: int32(atoi(t, args["read_unhealthy"]))}}
				return ""
			case "partition":
				tbl := meta.tables[d.CmdArgs[0].Key]
				if tbl == nil {
					t.Fatalf("partition of unknown table %s", d.CmdArgs[0].Key)
				}
				tbl.parts = append(tbl.parts, &pb.PartitionConfiguration{
					Gpid:                &pb.Gpid{AppId: tbl.health.Table.AppId, PartitionIndex: int32(atoi(t, d.CmdArgs[1].Key))},
					Ballot:              int64(atoi(t, args["ballot"])),
					MaxReplicaCount:     tbl.health.Table.ReplicaCount,
					Primary:             args["primary"],
					Secondaries:         splitList(args["secondaries"]),
					LastDrops:           splitList(args["last_drops"]),
					LastCommittedDecree: int64(atoi(t, args["decree"])),
					Learners:            splitList(args["learners"]),
				})
				return ""
			case "calls":
				out := strings.Join(meta.calls, "\n") + "\n"
				meta.calls = nil
				return out
			case "unavailable":
				tbl := meta.tables[d.CmdArgs[0].Key]
				w := &pb.PartitionWait{PartitionIndex: int32(atoi(t, d.CmdArgs[1].Key)), Reason: strings.TrimSpace(d.Input)}
				tbl.waits = append(tbl.waits, w)
				tbl.health.Waits = append(tbl.health.Waits, w)
				return ""
			case "drain":
				method := map[string]string{"migrate": "MigrateNode", "downgrade": "DowngradeNode"}[d.CmdArgs[0].Key]
				meta.drains[method+" "+d.CmdArgs[1].Key] = splitLines(d.Input)
				return ""
			case "data-table":
				data.tables[d.CmdArgs[0].Key] = &fakeDataTable{records: make(map[string]map[string]fakeRecord)}
				return ""
			}
			t.Fatalf("unknown directive %s", d.Cmd)
			return ""
		})
	})
}

// argMap returns the directive's key=value arguments.
func argMap(d *datadriven.TestData) map[string]string {
	m := make(map[string]string)
	for _, a := range d.CmdArgs {
		if len(a.Vals) > 0 {
			m[a.Key] = strings.Join(a.Vals, ",")
		}
	}
	return m
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
