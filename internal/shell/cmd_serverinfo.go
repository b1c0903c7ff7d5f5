package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// server_info and server_stat: Pegasus' shell commands that run the
// server-info and server-stat remote commands on servers and show one row
// per server. --json prints remote_command's JSON.

var targetFlags = []flagSpec{
	{long: "type", short: "t", kind: stringFlag, def: "all", metavar: "all|meta-server|replica-server", usage: "servers of this role"},
	{long: "node_list", short: "l", kind: stringFlag, metavar: "ADDR[,ADDR]", usage: "these servers instead of -t"},
}

var serverInfoCommand = &command{
	name:    "server_info",
	summary: "version, commit, build time and uptime of every server",
	flags:   targetFlags,
	json:    true,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		return s.serverTable(ctx, in, "server-info", []string{"version", "git_sha", "build_time", "protocol_version", "uptime_seconds"})
	},
}

var serverStatCommand = &command{
	name:    "server_stat",
	summary: "state figures of every server (replica counts, lease, leadership)",
	flags:   targetFlags,
	json:    true,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		return s.serverTable(ctx, in, "server-stat", nil)
	},
}

// serverTable runs command on the targets of in and prints a row per
// server: the columns named, or every field of its JSON answer.
func (s *Shell) serverTable(ctx context.Context, in *invocation, command string, columns []string) error {
	targets, err := s.remoteTargets(ctx, in)
	if err != nil {
		return err
	}
	out := s.runRemoteAll(ctx, targets, command, nil)
	if in.json {
		if err := writeJSON(in.out, out); err != nil {
			return err
		}
		return out.err(len(targets))
	}
	addrs := make([]string, 0, len(out.Details))
	for a := range out.Details {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	// Rows of fields; the header is columns, or the union of every
	// answer's fields.
	fields := make([]map[string]string, len(addrs))
	seen := map[string]bool{}
	for i, a := range addrs {
		fields[i] = map[string]string{}
		var m map[string]any
		if err := json.Unmarshal(out.Details[a].Message, &m); err != nil {
			var msg string
			json.Unmarshal(out.Details[a].Message, &msg)
			fields[i]["error"] = msg
			continue
		}
		for k, v := range m {
			if k == "node" || k == "role" {
				continue
			}
			fields[i][k] = fmt.Sprint(v)
			if columns == nil && !seen[k] {
				seen[k] = true
			}
		}
	}
	if columns == nil {
		for k := range seen {
			columns = append(columns, k)
		}
		sort.Strings(columns)
	}
	header := append([]string{"node", "role"}, columns...)
	header = append(header, "error")
	var rows [][]string
	for i, a := range addrs {
		row := []string{a, out.Details[a].Role}
		for _, c := range columns {
			v := fields[i][c]
			if c == "uptime_seconds" && v != "" {
				var secs float64
				fmt.Sscan(v, &secs)
				v = (time.Duration(secs) * time.Second).String()
			}
			if c == "git_sha" && len(v) > 12 && !strings.HasSuffix(v, "-dirty") {
				v = v[:12]
			}
			row = append(row, v)
		}
		rows = append(rows, append(row, fields[i]["error"]))
	}
	in.printer().table(command, header, rows)
	return out.err(len(targets))
}
