package redisproxy

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/pegasus-go/pegasus/internal/version"
)

// redisVersion is the Redis release whose command replies the proxy
// follows. INFO reports it as redis_version because client libraries read
// that field to decide which commands and options they may send.
const redisVersion = "7.0.0"

// INFO [section ...]
//
// Sections: server (versions, process, table and meta servers) and clients
// (connected_clients); "default", "all" and "everything" select both.
// Unknown sections are left out, as Redis does.
func cmdInfo(_ context.Context, s *Server, args [][]byte, out []byte) []byte {
	server, clients := len(args) == 1, len(args) == 1
	for _, a := range args[1:] {
		switch sec := string(a); {
		case equalFold(sec, "server"):
			server = true
		case equalFold(sec, "clients"):
			clients = true
		case equalFold(sec, "default"), equalFold(sec, "all"), equalFold(sec, "everything"):
			server, clients = true, true
		}
	}
	var b strings.Builder
	if server {
		uptime := int64(time.Since(s.started) / time.Second)
		b.WriteString("# Server\r\n")
		field(&b, "redis_version", redisVersion)
		field(&b, "redis_mode", "standalone")
		field(&b, "pegasus_version", version.Release())
		field(&b, "pegasus_commit", version.Commit())
		field(&b, "pegasus_protocol", version.Current().String())
		field(&b, "os", runtime.GOOS)
		field(&b, "arch_bits", strconv.Itoa(strconv.IntSize))
		field(&b, "go_version", runtime.Version())
		field(&b, "process_id", strconv.Itoa(os.Getpid()))
		field(&b, "tcp_port", strconv.Itoa(s.port()))
		field(&b, "uptime_in_seconds", strconv.FormatInt(uptime, 10))
		field(&b, "uptime_in_days", strconv.FormatInt(uptime/86400, 10))
		field(&b, "pegasus_table", s.cfg.Table)
		field(&b, "pegasus_meta_servers", strings.Join(s.cfg.MetaServers, ","))
		field(&b, "pipeline_concurrency", strconv.Itoa(s.cfg.PipelineConcurrency))
		field(&b, "command_timeout_ms", strconv.FormatInt(s.cfg.CommandTimeout.Milliseconds(), 10))
	}
	if clients {
		if server {
			b.WriteString("\r\n")
		}
		b.WriteString("# Clients\r\n")
		field(&b, "connected_clients", strconv.FormatInt(s.clients.Load(), 10))
	}
	return redcon.AppendBulkString(out, b.String())
}

// field writes one "name:value" line of INFO. Values never hold a line
// break: they come from flags and build metadata, but a stray CR or LF would
// split the line, so they are replaced.
func field(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(sanitize(value))
	b.WriteString("\r\n")
}

// COMMAND [COUNT | LIST | INFO name ... | DOCS [name ...]]
//
// Enough of COMMAND for tools and cluster-aware client libraries that ask
// which commands exist and where their keys are: entries have Redis 7's ten
// fields, with no tips, key specifications or subcommands.
func cmdCommand(_ context.Context, _ *Server, args [][]byte, out []byte) []byte {
	if len(args) == 1 {
		names := sortedCommandNames()
		out = redcon.AppendArray(out, len(names))
		for _, name := range names {
			out = appendCommandEntry(out, commands[name])
		}
		return out
	}
	sub := string(args[1])
	switch {
	case equalFold(sub, "count") && len(args) == 2:
		return redcon.AppendInt(out, int64(len(commands)))
	case equalFold(sub, "list") && len(args) == 2:
		names := sortedCommandNames()
		out = redcon.AppendArray(out, len(names))
		for _, name := range names {
			out = redcon.AppendBulkString(out, name)
		}
		return out
	case equalFold(sub, "info"):
		out = redcon.AppendArray(out, len(args)-2)
		for _, name := range args[2:] {
			if c, ok := lookup(name); ok {
				out = appendCommandEntry(out, c)
			} else {
				out = redcon.AppendNull(out)
			}
		}
		return out
	case equalFold(sub, "docs"):
		// Documentation is optional in Redis too (modules may have none);
		// redis-cli falls back to its built-in hints.
		return redcon.AppendArray(out, 0)
	case equalFold(sub, "count"), equalFold(sub, "list"):
		return appendWrongArity(out, "command|"+strings.ToLower(sub))
	}
	return appendUnknownSubcommand(out, "COMMAND", args[1])
}

func sortedCommandNames() []string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// appendCommandEntry appends c in the shape of one COMMAND INFO entry.
func appendCommandEntry(out []byte, c *command) []byte {
	out = redcon.AppendArray(out, 10)
	out = redcon.AppendBulkString(out, c.name)
	out = redcon.AppendInt(out, int64(c.arity))
	out = redcon.AppendArray(out, len(c.flags))
	for _, f := range c.flags {
		out = redcon.AppendString(out, f)
	}
	out = redcon.AppendInt(out, int64(c.firstKey))
	out = redcon.AppendInt(out, int64(c.lastKey))
	out = redcon.AppendInt(out, int64(c.keyStep))
	out = redcon.AppendArray(out, len(c.categories))
	for _, cat := range c.categories {
		out = redcon.AppendString(out, cat)
	}
	out = redcon.AppendArray(out, 0)  // tips
	out = redcon.AppendArray(out, 0)  // key specifications
	return redcon.AppendArray(out, 0) // subcommands
}

// CONFIG GET parameter [parameter ...]
//
// The proxy has no Redis configuration parameters, so every pattern matches
// nothing. redis-benchmark asks for "save" and "appendonly" before it
// starts and accepts the empty answer.
func cmdConfig(_ context.Context, _ *Server, args [][]byte, out []byte) []byte {
	if !equalFold(string(args[1]), "get") {
		return appendUnknownSubcommand(out, "CONFIG", args[1])
	}
	if len(args) < 3 {
		return appendWrongArity(out, "config|get")
	}
	return redcon.AppendArray(out, 0)
}
