package redisproxy

import (
	"context"
	"math"
	"runtime/debug"
	"time"

	"github.com/tidwall/redcon"

	"github.com/pegasus-go/pegasus/client"
)

// command is one Redis command the proxy serves. Its metadata follows
// Redis' COMMAND conventions, so the same table drives argument checking,
// the COMMAND reply and the key-based ordering of pipelined commands.
type command struct {
	// name is the lower-case command name.
	name string
	// arity counts the name too: N means exactly N arguments, -N at least N.
	arity int
	// flags and categories are reported by COMMAND (e.g. "write", "@string").
	flags      []string
	categories []string
	// firstKey, lastKey and keyStep locate the key arguments: positions
	// firstKey, firstKey+keyStep, ... up to lastKey, where a negative
	// lastKey counts from the end (-1 = the last argument). firstKey 0
	// means the command takes no keys.
	firstKey, lastKey, keyStep int
	// local commands never reach the backend and run without a deadline.
	local bool
	// run appends the command's reply to out. args[0] is the command name;
	// the arity has been checked.
	run func(ctx context.Context, s *Server, args [][]byte, out []byte) []byte
}

// commands is every command the proxy serves, by lower-case name. It is
// filled in init because COMMAND's handler reads it.
var commands map[string]*command

func init() {
	list := []*command{
		// Strings.
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, categories: []string{"@read", "@string", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdGet},
		{name: "set", arity: -3, flags: []string{"write", "denyoom"}, categories: []string{"@write", "@string", "@slow"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdSet},
		{name: "setex", arity: 4, flags: []string{"write", "denyoom"}, categories: []string{"@write", "@string", "@slow"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdSetEx},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, categories: []string{"@read", "@string", "@fast"}, firstKey: 1, lastKey: -1, keyStep: 1, run: cmdMGet},
		{name: "mset", arity: -3, flags: []string{"write", "denyoom"}, categories: []string{"@write", "@string", "@slow"}, firstKey: 1, lastKey: -1, keyStep: 2, run: cmdMSet},
		{name: "incr", arity: 2, flags: []string{"write", "denyoom", "fast"}, categories: []string{"@write", "@string", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdIncr},
		{name: "decr", arity: 2, flags: []string{"write", "denyoom", "fast"}, categories: []string{"@write", "@string", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdDecr},
		{name: "incrby", arity: 3, flags: []string{"write", "denyoom", "fast"}, categories: []string{"@write", "@string", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdIncrBy},
		{name: "decrby", arity: 3, flags: []string{"write", "denyoom", "fast"}, categories: []string{"@write", "@string", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdDecrBy},
		// Keyspace.
		{name: "del", arity: -2, flags: []string{"write"}, categories: []string{"@keyspace", "@write", "@slow"}, firstKey: 1, lastKey: -1, keyStep: 1, run: cmdDel},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, categories: []string{"@keyspace", "@read", "@fast"}, firstKey: 1, lastKey: -1, keyStep: 1, run: cmdExists},
		{name: "ttl", arity: 2, flags: []string{"readonly", "fast"}, categories: []string{"@keyspace", "@read", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdTTL},
		{name: "pttl", arity: 2, flags: []string{"readonly", "fast"}, categories: []string{"@keyspace", "@read", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdPTTL},
		{name: "expire", arity: -3, flags: []string{"write", "fast"}, categories: []string{"@keyspace", "@write", "@fast"}, firstKey: 1, lastKey: 1, keyStep: 1, run: cmdExpire},
		// Connection.
		{name: "ping", arity: -1, flags: []string{"fast", "stale"}, categories: []string{"@fast", "@connection"}, local: true, run: cmdPing},
		{name: "echo", arity: 2, flags: []string{"fast", "stale"}, categories: []string{"@fast", "@connection"}, local: true, run: cmdEcho},
		{name: "select", arity: 2, flags: []string{"fast", "stale", "loading"}, categories: []string{"@keyspace", "@fast", "@connection"}, local: true, run: cmdSelect},
		{name: "hello", arity: -1, flags: []string{"fast", "stale", "loading", "noauth"}, categories: []string{"@fast", "@connection"}, local: true, run: cmdHello},
		{name: "quit", arity: -1, flags: []string{"fast", "stale", "loading", "noauth"}, categories: []string{"@fast", "@connection"}, local: true, run: cmdQuit},
		// Server introspection.
		{name: "info", arity: -1, flags: []string{"stale", "loading"}, categories: []string{"@slow", "@dangerous"}, local: true, run: cmdInfo},
		{name: "command", arity: -1, flags: []string{"stale", "loading"}, categories: []string{"@slow", "@connection"}, local: true, run: cmdCommand},
		{name: "config", arity: -2, flags: []string{"admin", "stale", "loading"}, categories: []string{"@admin", "@slow", "@dangerous"}, local: true, run: cmdConfig},
	}
	commands = make(map[string]*command, len(list))
	for _, c := range list {
		commands[c.name] = c
	}
}

// lookup finds the command args[0] names, in any letter case.
func lookup(name []byte) (*command, bool) {
	var buf [16]byte
	if len(name) > len(buf) {
		return nil, false // longer than any command name
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	c, ok := commands[string(lower)] // no allocation: the compiler converts in place
	return c, ok
}

// arityOK reports whether n arguments (the name included) fit the command.
func (c *command) arityOK(n int) bool {
	if c.arity >= 0 {
		return n == c.arity
	}
	return n >= -c.arity
}

// keys returns the key arguments of a command whose arity is right.
func (c *command) keys(args [][]byte) [][]byte {
	if c.firstKey == 0 {
		return nil
	}
	last := c.lastKey
	if last < 0 {
		last += len(args)
	}
	keys := make([][]byte, 0, (last-c.firstKey)/c.keyStep+1)
	for i := c.firstKey; i <= last && i < len(args); i += c.keyStep {
		keys = append(keys, args[i])
	}
	return keys
}

// execute runs one command and appends its reply to out. Every command,
// well formed or not, gets exactly one reply, which is what keeps a
// pipeline's replies aligned with its commands.
//
// A panic in a command becomes an error reply for that command: one
// client's request must not take the proxy down.
func (s *Server) execute(ctx context.Context, st *connState, args [][]byte, out []byte) (reply []byte) {
	if len(args) == 0 {
		// The parser never hands over an empty command; answer anyway
		// rather than index out of range.
		return redcon.AppendError(out, "ERR empty command")
	}
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("redis proxy: command failed", "command", clip(args[0], 32), "panic", p, "stack", string(debug.Stack()))
			reply = redcon.AppendError(out, "ERR internal error")
		}
	}()
	if r, handled := s.authGate(st, args, out); handled {
		return r
	}
	c, ok := lookup(args[0])
	if !ok {
		return appendUnknownCommand(out, args)
	}
	if !c.arityOK(len(args)) {
		return appendWrongArity(out, c.name)
	}
	for _, key := range c.keys(args) {
		if msg := checkKey(key); msg != "" {
			return redcon.AppendError(out, msg)
		}
	}
	if c.local {
		return c.run(ctx, s, args, out)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	return c.run(ctx, s, args, out)
}

// checkKey returns the error reply for a key Pegasus cannot store as a hash
// key, or "" for a good one. Empty keys are refused although Redis allows
// them: Pegasus places a record with an empty hash key by its sort key, and
// refuses it in check_and_set, so SET NX/XX and EXPIRE could not serve it.
func checkKey(key []byte) string {
	switch {
	case len(key) == 0:
		return msgEmptyKey
	case len(key) > client.MaxHashKeyLen:
		return msgKeyTooLong
	}
	return ""
}

// parseInt parses an integer argument the way Redis does: canonical
// decimal only, so "+1", "01", "-0", " 1" and "1.0" are refused, as are
// values outside int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	switch {
	case len(digits) == 0 || len(digits) > 19:
		return 0, false
	case digits[0] == '0':
		return 0, len(b) == 1 // "0" only
	}
	// Accumulate as a negative number: its range includes math.MinInt64.
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v < (math.MinInt64+d)/10 {
			return 0, false
		}
		v = v*10 - d
	}
	if !neg {
		if v == math.MinInt64 {
			return 0, false
		}
		v = -v
	}
	return v, true
}

// maxTTLSeconds is the longest TTL Pegasus stores (a 32-bit count of seconds).
const maxTTLSeconds = math.MaxInt32

// parseTTL parses an expire time argument given in unit (time.Second or
// time.Millisecond) for the command name. On failure it returns the error
// reply: "not an integer" for a non-integer, "invalid expire time" for a
// non-positive TTL or one longer than Pegasus can store.
func parseTTL(arg []byte, unit time.Duration, name string) (time.Duration, string) {
	n, ok := parseInt(arg)
	if !ok {
		return 0, msgNotInteger
	}
	if n <= 0 || n > maxTTLSeconds*int64(time.Second/unit) {
		return 0, "ERR invalid expire time in '" + name + "' command"
	}
	return time.Duration(n) * unit, ""
}
