package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/logging"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Remote commands, under Pegasus' names (src/replica/replica_stub.cpp and
// src/server/server_utils.cpp), reached through ReplicaAdmin.RemoteCommand.
// Structured answers are JSON, as current Pegasus servers give them.

type remoteCommand struct {
	usage string
	help  string
	run   func(s *Server, ctx context.Context, args []string) (string, error)
}

var remoteCommands map[string]remoteCommand

func init() {
	// Assigned in init: help lists this very table.
	remoteCommands = map[string]remoteCommand{
		"help": {
			usage: "help",
			help:  "list the remote commands",
			run:   (*Server).cmdHelp,
		},
		"server-info": {
			usage: "server-info",
			help:  "version, commit, protocol and start time (JSON)",
			run:   (*Server).cmdServerInfo,
		},
		"flush-log": {
			usage: "flush-log",
			help:  "make the server's log durable (sync the log file when logging to one)",
			run:   (*Server).cmdFlushLog,
		},
		"server-stat": {
			usage: "server-stat",
			help:  "replica counts: total_replicas, opening_replicas, closing_replicas (JSON)",
			run:   (*Server).cmdServerStat,
		},
		"replica.query-progress": {
			usage: "replica.query-progress [app_id [pidx]]",
			help:  "status, ballot and decrees of every replica (JSON)",
			run:   (*Server).cmdQueryProgress,
		},
		"replica.kill_partition": {
			usage: "replica.kill_partition [app_id [pidx]]",
			help:  "flush and close replicas (all without arguments); a replica the meta server still places here reopens from its directory, replaying nothing",
			run:   (*Server).cmdKillPartition,
		},
		"replica.query-app-envs": {
			usage: "replica.query-app-envs [app_id]",
			help:  "the table envs this server applies, with their revision, per app id (JSON)",
			run:   (*Server).cmdQueryAppEnvs,
		},
		"replica.trigger-checkpoint": {
			usage: "replica.trigger-checkpoint [app_id [pidx]]",
			help:  "flush stores now and trim the mutation logs they cover",
			run:   (*Server).cmdTriggerCheckpoint,
		},
	}
}

// runCommand runs the remote command name.
func (s *Server) runCommand(ctx context.Context, name string, args []string) (string, error) {
	c, ok := remoteCommands[name]
	if !ok {
		return "", errorf(ErrUnknownCommand, "%q (try help)", name)
	}
	return c.run(s, ctx, args)
}

func (s *Server) cmdHelp(context.Context, []string) (string, error) {
	names := make([]string, 0, len(remoteCommands))
	for n := range remoteCommands {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		c := remoteCommands[n]
		fmt.Fprintf(&b, "%s\n    %s\n", c.usage, c.help)
	}
	return b.String(), nil
}

func (s *Server) cmdServerInfo(context.Context, []string) (string, error) {
	v := version.Get()
	return toJSON(map[string]any{
		"node":             string(s.node),
		"role":             "replica-server",
		"version":          v.Version,
		"git_sha":          v.Commit,
		"build_time":       v.BuildTime,
		"go_version":       v.GoVersion,
		"protocol_version": v.Protocol,
		"start_time":       s.started.UTC().Format(time.RFC3339),
		"uptime_seconds":   int64(time.Since(s.started).Seconds()),
	})
}

// cmdFlushLog makes the server's own log durable (Pegasus' flush-log):
// the log file is synced when logging goes to a file; logs to stderr are
// unbuffered, so there is nothing to flush.
func (s *Server) cmdFlushLog(context.Context, []string) (string, error) {
	if err := logging.Flush(); err != nil {
		return "", err
	}
	return "Flush done.", nil
}

func (s *Server) cmdServerStat(context.Context, []string) (string, error) {
	st := s.status()
	return toJSON(map[string]any{
		"total_replicas":   st.GetTotalReplicas(),
		"opening_replicas": st.GetOpeningReplicas(),
		"closing_replicas": st.GetClosingReplicas(),
		"lease_valid":      st.GetLeaseValid(),
	})
}

func (s *Server) cmdQueryProgress(_ context.Context, args []string) (string, error) {
	ps, err := s.selectPartitions(args)
	if err != nil {
		return "", err
	}
	out := make([]replicaProgress, len(ps))
	for i, p := range ps {
		out[i] = p.progress()
	}
	return toJSON(out)
}

// cmdKillPartition closes replicas after flushing their stores: when it
// returns, every closed replica's data is durable in its store, and a reopen
// replays nothing from its log.
func (s *Server) cmdKillPartition(_ context.Context, args []string) (string, error) {
	ps, err := s.selectPartitions(args)
	if err != nil {
		return "", err
	}
	results := make([]closeResult, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		s.mu.Lock()
		if s.partitions[p.g] != p {
			s.mu.Unlock()
			results[i].err = ErrClosed
			continue
		}
		delete(s.partitions, p.g)
		s.closingCount++
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.close(true)
			s.mu.Lock()
			s.closingCount--
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	var b strings.Builder
	closed := 0
	for i, p := range ps {
		if results[i].err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p.g, results[i].err)
			continue
		}
		closed++
		fmt.Fprintf(&b, "%s: closed, durable_decree=%d\n", p.g, results[i].durable)
	}
	return fmt.Sprintf("closed %d of %d replicas\n%s", closed, len(ps), b.String()), nil
}

func (s *Server) cmdTriggerCheckpoint(_ context.Context, args []string) (string, error) {
	ps, err := s.selectPartitions(args)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range ps {
		durable, segments, err := p.flush()
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p.g, err)
			continue
		}
		fmt.Fprintf(&b, "%s: durable_decree=%d, log segments removed=%d\n", p.g, durable, segments)
	}
	return b.String(), nil
}

// selectPartitions picks the open replicas named by [app_id [pidx]].
func (s *Server) selectPartitions(args []string) ([]*partition, error) {
	if len(args) > 2 {
		return nil, errorf(ErrInvalidRequest, "expected [app_id [pidx]], got %d arguments", len(args))
	}
	want := make([]int64, len(args))
	for i, a := range args {
		v, err := strconv.ParseInt(a, 10, 32)
		if err != nil || v < 0 {
			return nil, errorf(ErrInvalidRequest, "argument %q is not an id", a)
		}
		want[i] = v
	}
	var out []*partition
	for _, p := range s.partitionList() {
		if len(want) > 0 && int64(p.g.app) != want[0] {
			continue
		}
		if len(want) > 1 && int64(p.g.index) != want[1] {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("replica: encode answer: %w", err)
	}
	return string(b), nil
}
