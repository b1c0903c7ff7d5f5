package meta

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/logging"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Remote commands every meta server answers itself, leader or not, as in
// Pegasus: they describe or act on this process, not the cluster. The knob
// commands (knobs.go) act on the cluster and need the leader.
var localCommands map[string]localCommand

type localCommand struct {
	usage string
	run   func(s *Server) (string, error)
}

func init() {
	// Assigned in init: help lists this very table.
	localCommands = map[string]localCommand{
		"help":        {"help: this list", (*Server).cmdHelp},
		"server-info": {"server-info: version, commit, build time, protocol and start time of this meta server (JSON)", (*Server).cmdServerInfo},
		"server-stat": {"server-stat: whether this meta server leads, and its process figures (JSON)", (*Server).cmdServerStat},
		"flush-log":   {"flush-log: make this server's log durable (sync the log file when logging to one)", (*Server).cmdFlushLog},
	}
}

// localCommand runs command when it is a local one; ok is false otherwise.
func (s *Server) localCommand(command string) (out string, ok bool, err error) {
	c, ok := localCommands[command]
	if !ok {
		return "", false, nil
	}
	out, err = c.run(s)
	return out, true, err
}

func (s *Server) cmdHelp() (string, error) {
	var b strings.Builder
	for _, name := range []string{"help", "server-info", "server-stat", "flush-log"} {
		b.WriteString(localCommands[name].usage + "\n")
	}
	for _, k := range remoteKnobs {
		fmt.Fprintf(&b, "%s %s (leader only)\n", k.name, k.usage)
	}
	return b.String(), nil
}

func (s *Server) cmdServerInfo() (string, error) {
	v := version.Get()
	return marshalCommand(map[string]any{
		"node":             s.addr,
		"role":             "meta-server",
		"version":          v.Version,
		"git_sha":          v.Commit,
		"build_time":       v.BuildTime,
		"go_version":       v.GoVersion,
		"protocol_version": v.Protocol,
		"start_time":       s.started.UTC().Format(time.RFC3339),
		"uptime_seconds":   int64(time.Since(s.started).Seconds()),
	})
}

func (s *Server) cmdServerStat() (string, error) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	return marshalCommand(map[string]any{
		"node":           s.addr,
		"is_leader":      s.IsLeader(),
		"leader":         s.Leader(),
		"uptime_seconds": int64(time.Since(s.started).Seconds()),
		"goroutines":     runtime.NumGoroutine(),
		"heap_bytes":     mem.HeapAlloc,
	})
}

func (s *Server) cmdFlushLog() (string, error) {
	if err := logging.Flush(); err != nil {
		return "", err
	}
	return "Flush done.", nil
}

func marshalCommand(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
