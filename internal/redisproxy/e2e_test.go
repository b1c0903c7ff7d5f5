package redisproxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/redisproxy"
	"github.com/pegasus-go/pegasus/internal/shell"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

// TestEndToEndOnebox drives the proxy with go-redis over a real local
// cluster: the proxy in process over the Pegasus client, and the
// `pegasus redis-proxy` command as its own process. It runs once the
// pegasus binary has the meta and replica roles.
func TestEndToEndOnebox(t *testing.T) {
	cluster := testcluster.Start(t, onebox.Options{Metas: 1, Replicas: 3})
	bin := oneboxtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	metas := cluster.MetaAddrs()
	var out bytes.Buffer
	sh, err := shell.New(shell.Config{MetaServers: metas, Out: &out, Credentials: cluster.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if err := sh.RunScript(ctx, "create redis -p 4 -r 3"); err != nil {
		t.Fatalf("create: %v\n%s", err, out.String())
	}

	c, err := client.New(ctx, client.Config{MetaServers: metas})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	table, err := c.Open(ctx, "redis")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := redisproxy.New(redisproxy.NewTableBackend(table), redisproxy.Config{Table: "redis", MetaServers: metas})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	defer func() {
		stopServing()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	defer rdb.Close()
	t.Run("commands", func(t *testing.T) { checkCommands(ctx, t, rdb, table) })
	t.Run("pipeline", func(t *testing.T) { checkPipeline(ctx, t, rdb) })
	t.Run("binary", func(t *testing.T) { checkBinary(ctx, t, bin, metas) })
}

// checkCommands runs every data command once against the cluster and
// checks that Redis keys are the Pegasus records with an empty sort key.
func checkCommands(ctx context.Context, t *testing.T, rdb *redis.Client, table *client.Table) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.Set(ctx, "user:1", "ada", 0).Err())
	if v, err := rdb.Get(ctx, "user:1").Result(); err != nil || v != "ada" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	if v, found, err := table.Get(ctx, []byte("user:1"), nil); err != nil || !found || string(v) != "ada" {
		t.Fatalf("Pegasus get of the Redis key = %q, %v, %v", v, found, err)
	}
	must(table.Set(ctx, []byte("from-pegasus"), nil, []byte("hello"), 0))
	if v, err := rdb.Get(ctx, "from-pegasus").Result(); err != nil || v != "hello" {
		t.Fatalf("GET of a Pegasus record = %q, %v", v, err)
	}
	if _, err := rdb.Get(ctx, "missing").Result(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}

	if ok, err := rdb.SetNX(ctx, "user:1", "bob", 0).Result(); err != nil || ok {
		t.Fatalf("SET NX on existing = %v, %v", ok, err)
	}
	if ok, err := rdb.SetXX(ctx, "nobody", "x", 0).Result(); err != nil || ok {
		t.Fatalf("SET XX on missing = %v, %v", ok, err)
	}
	if ok, err := rdb.SetNX(ctx, "lock", "me", 30*time.Second).Result(); err != nil || !ok {
		t.Fatalf("SET NX EX on missing = %v, %v", ok, err)
	}
	if ttl, err := rdb.TTL(ctx, "lock").Result(); err != nil || ttl <= 0 || ttl > 30*time.Second {
		t.Fatalf("TTL after SET NX EX 30 = %v, %v", ttl, err)
	}
	if ttl, err := rdb.TTL(ctx, "user:1").Result(); err != nil || ttl != -1 {
		t.Fatalf("TTL without expiry = %v, %v", ttl, err)
	}
	if ok, err := rdb.Expire(ctx, "user:1", time.Hour).Result(); err != nil || !ok {
		t.Fatalf("EXPIRE = %v, %v", ok, err)
	}
	if ttl, err := rdb.PTTL(ctx, "user:1").Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL after EXPIRE 3600 = %v, %v", ttl, err)
	}
	if v, _ := rdb.Get(ctx, "user:1").Result(); v != "ada" {
		t.Fatalf("EXPIRE changed the value: %q", v)
	}

	if n, err := rdb.IncrBy(ctx, "hits", 5).Result(); err != nil || n != 5 {
		t.Fatalf("INCRBY = %d, %v", n, err)
	}
	if n, err := rdb.Decr(ctx, "hits").Result(); err != nil || n != 4 {
		t.Fatalf("DECR = %d, %v", n, err)
	}
	if err := rdb.Incr(ctx, "user:1").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("INCR of a string: %v", err)
	}

	must(rdb.MSet(ctx, "m1", "1", "m2", "2", "m3", "3").Err())
	vals, err := rdb.MGet(ctx, "m3", "nope", "m1", "m2").Result()
	if err != nil || fmt.Sprint(vals) != "[3 <nil> 1 2]" {
		t.Fatalf("MGET = %v, %v", vals, err)
	}
	if n, err := rdb.Exists(ctx, "m1", "m2", "nope", "m1").Result(); err != nil || n != 3 {
		t.Fatalf("EXISTS = %d, %v", n, err)
	}
	if n, err := rdb.Del(ctx, "m1", "m2", "nope").Result(); err != nil || n != 2 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	if n, err := rdb.Exists(ctx, "m1", "m2", "m3").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS after DEL = %d, %v", n, err)
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil || !strings.Contains(info, "pegasus_table:redis") {
		t.Fatalf("INFO server: %v\n%s", err, info)
	}
}

// checkPipeline sends one pipeline of dependent and independent commands
// over keys spread across partitions and checks every reply.
func checkPipeline(ctx context.Context, t *testing.T, rdb *redis.Client) {
	pipe := rdb.Pipeline()
	var gets []*redis.StringCmd
	var incrs []*redis.IntCmd
	for i := range 100 {
		key := "p" + strconv.Itoa(i%10)
		pipe.Set(ctx, key, i, 0)
		gets = append(gets, pipe.Get(ctx, key))
		incrs = append(incrs, pipe.Incr(ctx, "pcounter"))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if gets[i].Val() != strconv.Itoa(i) || incrs[i].Val() != int64(i+1) {
			t.Fatalf("reply %d: GET %q, INCR %d", i, gets[i].Val(), incrs[i].Val())
		}
	}
}

// checkBinary runs `pegasus redis-proxy` as a process, talks to it, and
// stops it with SIGTERM, which must end it cleanly.
func checkBinary(ctx context.Context, t *testing.T, bin string, metas []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "redis-proxy", "--meta", strings.Join(metas, ","), "--table", "redis", "--listen", addr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("redis-proxy exited: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("redis-proxy did not stop on SIGTERM\n%s", stderr.String())
		}
	}()

	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("redis-proxy exited: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("redis-proxy never answered PING: %v\n%s", errors.Join(err, ctx.Err()), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if v, err := rdb.Get(ctx, "from-pegasus").Result(); err != nil || v != "hello" {
		t.Fatalf("GET through the binary = %q, %v", v, err)
	}
}
