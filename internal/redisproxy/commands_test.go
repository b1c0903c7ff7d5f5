package redisproxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// do runs a raw command through go-redis and returns its result.
func do(t *testing.T, rdb *redis.Client, args ...any) (any, error) {
	t.Helper()
	return rdb.Do(context.Background(), args...).Result()
}

// wantErr checks that a command fails with exactly the Redis error msg.
func wantErr(t *testing.T, rdb *redis.Client, msg string, args ...any) {
	t.Helper()
	_, err := do(t, rdb, args...)
	if err == nil || err.Error() != msg {
		t.Errorf("%v: got error %v, want %q", args, err, msg)
	}
}

// want checks that a command succeeds with the given result.
func want(t *testing.T, rdb *redis.Client, result any, args ...any) {
	t.Helper()
	got, err := do(t, rdb, args...)
	if err != nil {
		t.Errorf("%v: %v", args, err)
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(result) {
		t.Errorf("%v = %#v, want %#v", args, got, result)
	}
}

// wantNil checks that a command answers the null bulk string.
func wantNil(t *testing.T, rdb *redis.Client, args ...any) {
	t.Helper()
	if got, err := do(t, rdb, args...); err != redis.Nil {
		t.Errorf("%v = %v, %v; want nil reply", args, got, err)
	}
}

func TestGetSet(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)
	ctx := context.Background()

	if _, err := rdb.Get(ctx, "k").Result(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}
	if err := rdb.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v1" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	// Binary-safe values, including CRLF and NUL.
	bin := "a\r\nb\x00c"
	if err := rdb.Set(ctx, "bin", bin, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := rdb.Get(ctx, "bin").Result(); v != bin {
		t.Fatalf("binary value = %q", v)
	}
	// An empty value is a value.
	rdb.Set(ctx, "empty", "", 0)
	if v, err := rdb.Get(ctx, "empty").Result(); err != nil || v != "" {
		t.Fatalf("empty value = %q, %v", v, err)
	}
}

func TestSetOptions(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	ctx := context.Background()

	// NX writes only a missing key; XX only an existing one.
	if ok, err := rdb.SetNX(ctx, "nx", "1", 0).Result(); err != nil || !ok {
		t.Fatalf("SET NX on missing = %v, %v", ok, err)
	}
	if ok, err := rdb.SetNX(ctx, "nx", "2", 0).Result(); err != nil || ok {
		t.Fatalf("SET NX on existing = %v, %v", ok, err)
	}
	if v, _ := b.value("nx"); v != "1" {
		t.Fatalf("NX overwrote: %q", v)
	}
	if ok, err := rdb.SetXX(ctx, "xx", "1", 0).Result(); err != nil || ok {
		t.Fatalf("SET XX on missing = %v, %v", ok, err)
	}
	if _, ok := b.value("xx"); ok {
		t.Fatal("XX created the key")
	}
	if ok, err := rdb.SetXX(ctx, "nx", "3", 0).Result(); err != nil || !ok {
		t.Fatalf("SET XX on existing = %v, %v", ok, err)
	}
	if v, _ := b.value("nx"); v != "3" {
		t.Fatalf("XX did not write: %q", v)
	}

	// EX and PX set a TTL; PX rounds up to whole seconds.
	want(t, rdb, "OK", "SET", "ex", "v", "EX", "100")
	want(t, rdb, 100, "TTL", "ex")
	want(t, rdb, "OK", "set", "px", "v", "px", "1500")
	want(t, rdb, 2000, "PTTL", "px")
	want(t, rdb, "OK", "SET", "both", "v", "NX", "EX", "7")
	want(t, rdb, 7, "TTL", "both")
	wantNil(t, rdb, "SET", "both", "w", "EX", "9", "NX")
	want(t, rdb, 7, "TTL", "both")
	// A plain SET drops the TTL, as in Redis.
	want(t, rdb, "OK", "SET", "ex", "v2")
	want(t, rdb, -1, "TTL", "ex")
	// The TTL runs out.
	b.advance(8 * time.Second)
	wantNil(t, rdb, "GET", "both")

	for _, tc := range []struct {
		args []any
		msg  string
	}{
		{[]any{"SET", "k", "v", "NX", "XX"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "XX", "NX"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "NX", "NX"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "EX", "1", "PX", "1000"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "EX"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "BOGUS"}, "ERR syntax error"},
		{[]any{"SET", "k", "v", "EX", "ten"}, "ERR value is not an integer or out of range"},
		{[]any{"SET", "k", "v", "EX", "0"}, "ERR invalid expire time in 'set' command"},
		{[]any{"SET", "k", "v", "PX", "-5"}, "ERR invalid expire time in 'set' command"},
		{[]any{"SET", "k", "v", "EX", "2147483648"}, "ERR invalid expire time in 'set' command"},
		{[]any{"SET", "k", "v", "KEEPTTL"}, "ERR SET option KEEPTTL is not supported by this proxy"},
		{[]any{"SET", "k", "v", "get"}, "ERR SET option GET is not supported by this proxy"},
		{[]any{"SET", "k"}, "ERR wrong number of arguments for 'set' command"},
		{[]any{"SETEX", "k", "0", "v"}, "ERR invalid expire time in 'setex' command"},
		{[]any{"SETEX", "k", "x", "v"}, "ERR value is not an integer or out of range"},
		{[]any{"SETEX", "k", "1"}, "ERR wrong number of arguments for 'setex' command"},
	} {
		wantErr(t, rdb, tc.msg, tc.args...)
	}
	if _, ok := b.value("k"); ok {
		t.Fatal("a refused SET wrote")
	}

	if err := rdb.Do(ctx, "SETEX", "setex", 42, "v").Err(); err != nil {
		t.Fatal(err)
	}
	want(t, rdb, "v", "GET", "setex")
	want(t, rdb, 42, "TTL", "setex")
}

func TestIncrFamily(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)

	want(t, rdb, 1, "INCR", "n")
	want(t, rdb, 11, "INCRBY", "n", "10")
	want(t, rdb, 10, "DECR", "n")
	want(t, rdb, -5, "DECRBY", "n", "15")
	want(t, rdb, "-5", "GET", "n")
	want(t, rdb, -3, "DECRBY", "fresh", "3")

	// INCR keeps the TTL, as in Redis.
	want(t, rdb, "OK", "SET", "ttl", "5", "EX", "50")
	want(t, rdb, 6, "INCR", "ttl")
	want(t, rdb, 50, "TTL", "ttl")

	want(t, rdb, "OK", "SET", "s", "abc")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "INCR", "s")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "INCRBY", "n", "1.5")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "INCRBY", "n", "+1")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "DECRBY", "n", "99999999999999999999")
	wantErr(t, rdb, "ERR decrement would overflow", "DECRBY", "n", strconv.FormatInt(math.MinInt64, 10))
	want(t, rdb, "OK", "SET", "max", strconv.FormatInt(math.MaxInt64, 10))
	wantErr(t, rdb, "ERR value is not an integer or out of range", "INCR", "max")
	wantErr(t, rdb, "ERR wrong number of arguments for 'incrby' command", "INCRBY", "n")
	want(t, rdb, "abc", "GET", "s")
	want(t, rdb, "-5", "GET", "n")
}

func TestDelExists(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	ctx := context.Background()

	for _, k := range []string{"a", "b", "c"} {
		rdb.Set(ctx, k, "v", 0)
	}
	want(t, rdb, 3, "EXISTS", "a", "b", "c", "missing")
	// EXISTS counts a repeated key every time, as Redis does.
	want(t, rdb, 3, "EXISTS", "a", "a", "a")
	want(t, rdb, 0, "EXISTS", "missing")
	// DEL counts each deleted key once.
	want(t, rdb, 2, "DEL", "a", "b", "a", "missing")
	want(t, rdb, 0, "DEL", "a")
	want(t, rdb, 1, "EXISTS", "a", "b", "c")
	wantErr(t, rdb, "ERR wrong number of arguments for 'del' command", "DEL")
	wantErr(t, rdb, "ERR wrong number of arguments for 'exists' command", "EXISTS")
}

func TestTTLAndExpire(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)

	want(t, rdb, -2, "TTL", "k")
	want(t, rdb, -2, "PTTL", "k")
	want(t, rdb, 0, "EXPIRE", "k", "10")
	if _, ok := b.value("k"); ok {
		t.Fatal("EXPIRE created a key")
	}

	want(t, rdb, "OK", "SET", "k", "v")
	want(t, rdb, -1, "TTL", "k")
	want(t, rdb, -1, "PTTL", "k")
	want(t, rdb, 1, "EXPIRE", "k", "30")
	want(t, rdb, 30, "TTL", "k")
	want(t, rdb, 30000, "PTTL", "k")
	want(t, rdb, "v", "GET", "k")
	b.advance(10 * time.Second)
	want(t, rdb, 20, "TTL", "k")
	b.advance(20 * time.Second)
	want(t, rdb, -2, "TTL", "k")

	// A non-positive TTL deletes the key.
	want(t, rdb, "OK", "SET", "k", "v")
	want(t, rdb, 1, "EXPIRE", "k", "0")
	want(t, rdb, 0, "EXISTS", "k")
	want(t, rdb, 0, "EXPIRE", "k", "-1")

	wantErr(t, rdb, "ERR value is not an integer or out of range", "EXPIRE", "k", "soon")
	wantErr(t, rdb, "ERR invalid expire time in 'expire' command", "EXPIRE", "k", "2147483648")
	wantErr(t, rdb, "ERR EXPIRE options NX, XX, GT and LT are not supported by this proxy", "EXPIRE", "k", "10", "NX")
	wantErr(t, rdb, "ERR wrong number of arguments for 'expire' command", "EXPIRE", "k")
	wantErr(t, rdb, "ERR wrong number of arguments for 'ttl' command", "TTL", "a", "b")
}

// TestExpireNeverOverwritesAConcurrentWrite: a SET slipping in between
// EXPIRE's read and its compare-and-set makes the compare fail; EXPIRE
// starts over and puts the TTL on the new value instead of writing back the
// old one.
func TestExpireNeverOverwritesAConcurrentWrite(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	want(t, rdb, "OK", "SET", "k", "old")
	interfered := false
	b.beforeSetIf = func(key []byte) {
		if !interfered {
			interfered = true
			b.Set(context.Background(), key, []byte("new"), 0)
		}
	}
	want(t, rdb, 1, "EXPIRE", "k", "60")
	want(t, rdb, "new", "GET", "k")
	want(t, rdb, 60, "TTL", "k")

	// A writer that never stops wins: EXPIRE gives up and says so.
	n := 0
	b.beforeSetIf = func(key []byte) {
		n++
		b.Set(context.Background(), key, []byte(strconv.Itoa(n)), 0)
	}
	_, err := do(t, rdb, "EXPIRE", "k", "60")
	if err == nil || !strings.Contains(err.Error(), "key changed concurrently") {
		t.Fatalf("EXPIRE under constant writes: %v", err)
	}
	if n != expireAttempts {
		t.Errorf("EXPIRE tried %d times, want %d", n, expireAttempts)
	}
	want(t, rdb, -1, "TTL", "k")

	// A delete in between: EXPIRE answers 0 and does not resurrect the key.
	b.beforeSetIf = func(key []byte) { b.Del(context.Background(), key) }
	want(t, rdb, 0, "EXPIRE", "k", "60")
	want(t, rdb, 0, "EXISTS", "k")
}

func TestMGetMSet(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	ctx := context.Background()

	if err := rdb.MSet(ctx, "a", "1", "b", "2", "c", "3").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.MGet(ctx, "c", "missing", "a", "b", "a").Result()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[3 <nil> 1 2 1]" {
		t.Fatalf("MGET = %v", got)
	}
	// The last value of a repeated key wins, as in Redis.
	want(t, rdb, "OK", "MSET", "d", "first", "e", "x", "d", "last")
	want(t, rdb, "last", "GET", "d")
	wantErr(t, rdb, "ERR wrong number of arguments for 'mset' command", "MSET", "a", "1", "b")
	wantErr(t, rdb, "ERR wrong number of arguments for 'mset' command", "MSET", "a")
	wantErr(t, rdb, "ERR wrong number of arguments for 'mget' command", "MGET")

	// Many keys, more than the fan-out bound, stay in order.
	args := []any{"MSET"}
	keys := []string{}
	for i := range 3 * maxFanOut {
		k := "many" + strconv.Itoa(i)
		keys = append(keys, k)
		args = append(args, k, strconv.Itoa(i*i))
	}
	want(t, rdb, "OK", args...)
	vals, err := rdb.MGet(ctx, keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != strconv.Itoa(i*i) {
			t.Fatalf("MGET[%d] = %v, want %d", i, v, i*i)
		}
	}
}

// TestBackendErrors: a failing store gets an ERR reply naming the cause,
// one reply per command, and a failed key fails the whole MGET rather than
// reading as missing.
func TestBackendErrors(t *testing.T) {
	b := newMemBackend()
	boom := errors.New("client: server error: ERR_UNKNOWN\r\nsecond line")
	b.fail = func(op string, key []byte) error {
		if string(key) == "bad" {
			return boom
		}
		return nil
	}
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	const msg = "ERR client: server error: ERR_UNKNOWN  second line"
	wantErr(t, rdb, msg, "GET", "bad")
	wantErr(t, rdb, msg, "SET", "bad", "v")
	wantErr(t, rdb, msg, "MGET", "good", "bad", "good2")
	wantErr(t, rdb, msg, "DEL", "good", "bad")
	wantErr(t, rdb, msg, "INCR", "bad")
	want(t, rdb, "OK", "SET", "good", "v")
}

// TestUnknownOutcomeIsSaidFirst: a write whose outcome the store cannot
// tell is not reported as a plain failure.
func TestUnknownOutcomeIsSaidFirst(t *testing.T) {
	b := newMemBackend()
	b.fail = func(op string, key []byte) error {
		return fmt.Errorf("client: set on table \"t\": timed out: %w", errUnknownOutcomeForTest)
	}
	p := startProxy(t, b, Config{})
	rdb := p.client(t)
	_, err := do(t, rdb, "SET", "k", "v")
	if err == nil || !strings.HasPrefix(err.Error(), "ERR write outcome unknown, it may have been applied: ") {
		t.Fatalf("SET with unknown outcome: %v", err)
	}
}

// TestCommandTimeout: a command that outlives CommandTimeout is answered
// with an error naming the deadline, and the connection stays usable.
func TestCommandTimeout(t *testing.T) {
	slow := newMemBackend()
	slow.delay = time.Minute
	p := startProxy(t, slow, Config{CommandTimeout: 50 * time.Millisecond})
	rdb := p.client(t)
	_, err := do(t, rdb, "GET", "k")
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("GET on a stuck store: %v", err)
	}
	want(t, rdb, "PONG", "PING")
}

func TestKeyLimits(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)
	long := strings.Repeat("k", 65535)
	for _, args := range [][]any{{"GET", ""}, {"SET", "", "v"}, {"MGET", "a", ""}, {"DEL", ""}} {
		wantErr(t, rdb, msgEmptyKey, args...)
	}
	for _, args := range [][]any{{"GET", long}, {"SET", long, "v"}, {"EXISTS", long}} {
		wantErr(t, rdb, msgKeyTooLong, args...)
	}
	want(t, rdb, "OK", "SET", long[1:], "v")
	want(t, rdb, "v", "GET", long[1:])
}

func TestConnectionCommands(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)

	want(t, rdb, "PONG", "PING")
	want(t, rdb, "hi there", "PING", "hi there")
	wantErr(t, rdb, "ERR wrong number of arguments for 'ping' command", "PING", "a", "b")
	want(t, rdb, "echo\r\n", "ECHO", "echo\r\n")
	wantErr(t, rdb, "ERR wrong number of arguments for 'echo' command", "ECHO")
	want(t, rdb, "OK", "SELECT", "0")
	wantErr(t, rdb, "ERR DB index is out of range", "SELECT", "1")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "SELECT", "zero")
	wantErr(t, rdb, "NOPROTO unsupported protocol version", "HELLO", "3")
	wantErr(t, rdb, "NOPROTO unsupported protocol version", "HELLO", "1")
	wantErr(t, rdb, "ERR Protocol version is not an integer or out of range", "HELLO", "two")
	wantErr(t, rdb, msgNoPassword, "HELLO", "2", "AUTH", "u", "p")
	wantErr(t, rdb, "ERR Syntax error in HELLO option 'bogus'", "HELLO", "2", "bogus")
	hello, err := do(t, rdb, "HELLO", "2", "SETNAME", "me")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(hello); !strings.Contains(s, "proto 2") || !strings.Contains(s, "server pegasus") {
		t.Errorf("HELLO 2 = %v", s)
	}

	// go-redis configured with database 0 sends SELECT 0 on connect.
	db0 := redis.NewClient(&redis.Options{Addr: p.addr, DB: 0, Protocol: 2})
	defer db0.Close()
	if err := db0.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestQuitClosesAfterReplying(t *testing.T) {
	b := newMemBackend()
	p := startProxy(t, b, Config{})
	c := p.raw(t)
	c.send([]string{"SET", "before", "1"}, []string{"QUIT"}, []string{"SET", "after", "1"})
	c.expect("+OK\r\n+OK\r\n")
	c.expectClosed()
	if _, ok := b.value("before"); !ok {
		t.Error("command before QUIT did not run")
	}
	if _, ok := b.value("after"); ok {
		t.Error("command after QUIT ran")
	}
}

func TestUnknownCommandAndArity(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)
	wantErr(t, rdb, "ERR unknown command 'FLUSHALL', with args beginning with: ", "FLUSHALL")
	wantErr(t, rdb, "ERR unknown command 'hset', with args beginning with: 'h' 'f' 'v' ", "hset", "h", "f", "v")
	wantErr(t, rdb, "ERR unknown command 'averyveryverylongcommandname', with args beginning with: ", "averyveryverylongcommandname")
	long := strings.Repeat("x", 200)
	_, err := do(t, rdb, "NOPE", long, "second")
	if err == nil || err.Error() != "ERR unknown command 'NOPE', with args beginning with: '"+long[:128]+"' " {
		t.Errorf("unknown command with long args: %v", err)
	}
	wantErr(t, rdb, "ERR wrong number of arguments for 'get' command", "GET")
	wantErr(t, rdb, "ERR wrong number of arguments for 'get' command", "gEt", "a", "b")
}

func TestInfo(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{Table: "users", MetaServers: []string{"m1:34601", "m2:34601"}})
	rdb := p.client(t)
	other := p.raw(t)
	other.send([]string{"PING"})
	other.expect("+PONG\r\n")

	info, err := rdb.Info(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(p.addr, ":")
	for _, line := range []string{
		"# Server\r\n", "redis_version:" + redisVersion + "\r\n", "pegasus_table:users\r\n",
		"pegasus_meta_servers:m1:34601,m2:34601\r\n", "tcp_port:" + port + "\r\n",
		"# Clients\r\n", "connected_clients:2\r\n",
	} {
		if !strings.Contains(info, line) {
			t.Errorf("INFO lacks %q:\n%s", line, info)
		}
	}
	server, _ := rdb.Info(context.Background(), "server").Result()
	if !strings.Contains(server, "pegasus_table:users") || strings.Contains(server, "connected_clients") {
		t.Errorf("INFO server:\n%s", server)
	}
	if s, _ := rdb.Info(context.Background(), "keyspace").Result(); s != "" {
		t.Errorf("INFO of an unknown section = %q, want empty", s)
	}
}

func TestCommandCommand(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)
	ctx := context.Background()

	// go-redis parses the full table the way a cluster client does.
	infos, err := rdb.Command(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(commands) {
		t.Errorf("COMMAND lists %d commands, want %d", len(infos), len(commands))
	}
	mset := infos["mset"]
	if mset == nil || mset.Arity != -3 || mset.FirstKeyPos != 1 || mset.LastKeyPos != -1 || mset.StepCount != 2 {
		t.Errorf("COMMAND mset = %+v", mset)
	}
	if get := infos["get"]; get == nil || !get.ReadOnly {
		t.Errorf("COMMAND get = %+v", get)
	}
	want(t, rdb, len(commands), "COMMAND", "COUNT")
	want(t, rdb, "[]", "COMMAND", "DOCS")
	got, err := do(t, rdb, "COMMAND", "INFO", "GET", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(got); !strings.HasPrefix(s, "[[get 2 [readonly fast] 1 1 1") || !strings.HasSuffix(s, " <nil>]") {
		t.Errorf("COMMAND INFO GET nosuch = %v", s)
	}
	list, _ := do(t, rdb, "COMMAND", "LIST")
	if s := fmt.Sprint(list); !strings.Contains(s, "expire") || !strings.Contains(s, "mget") {
		t.Errorf("COMMAND LIST = %v", s)
	}
	wantErr(t, rdb, "ERR unknown subcommand 'bogus'. Try COMMAND HELP.", "COMMAND", "bogus")
}

func TestConfigGet(t *testing.T) {
	p := startProxy(t, newMemBackend(), Config{})
	rdb := p.client(t)
	want(t, rdb, "[]", "CONFIG", "GET", "save")
	want(t, rdb, "[]", "CONFIG", "GET", "appendonly")
	wantErr(t, rdb, "ERR unknown subcommand 'SET'. Try CONFIG HELP.", "CONFIG", "SET", "save", "")
	wantErr(t, rdb, "ERR wrong number of arguments for 'config|get' command", "CONFIG", "GET")
	wantErr(t, rdb, "ERR wrong number of arguments for 'config' command", "CONFIG")
}
