package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestE2EIncrRetryAcrossRestartsAndFailover: an incr and a check_and_set
// are applied; every secondary then restarts (a rolling restart: each comes
// back with only what its store kept), the primary is killed and a
// restarted secondary promoted; the retries of both writes, with the
// RequestIDs of the originals, reach the new primary and get the original
// results, and the counter moved once. The retries are sent on the wire as
// the client would send them, so that the test controls when they happen.
func TestE2EIncrRetryAcrossRestartsAndFailover(t *testing.T) {
	ob := testcluster.Start(t, onebox.Options{
		Metas: 1, Replicas: 3,
		Tuning: onebox.Tuning{Meta: oneboxtest.FastMeta, Replica: oneboxtest.FastReplica},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	const table = "exactly_once"
	created, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: table, PartitionCount: 1, ReplicaCount: 3})
	})
	if err != nil || created.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", created.GetError(), err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	partition := func() *pb.PartitionConfiguration {
		t.Helper()
		resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
			return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: table})
		})
		if err != nil || len(resp.GetPartitions()) != 1 {
			t.Fatalf("query config: %v %v", resp.GetError(), err)
		}
		return resp.GetPartitions()[0]
	}
	appID := partition().GetGpid().GetAppId()
	nameOf := func(addr string) string {
		for _, p := range ob.Replicas() {
			if p.Address == addr {
				return p.Name
			}
		}
		t.Fatalf("no replica server at %s", addr)
		return ""
	}

	key := []byte("counter")
	hash := client.PartitionHash(key, nil)
	clientID := rand.Uint64() | 1
	incr := &pb.ClientRequest{
		Gpid: &pb.Gpid{AppId: appID}, PartitionHash: hash, TimeoutMs: 5000,
		RequestId: &pb.RequestID{ClientId: clientID, Seq: 1},
		Op:        &pb.ClientRequest_Incr{Incr: &pb.IncrRequest{HashKey: key, Increment: 5}},
	}
	cas := &pb.ClientRequest{
		Gpid: &pb.Gpid{AppId: appID}, PartitionHash: hash, TimeoutMs: 5000,
		RequestId: &pb.RequestID{ClientId: clientID, Seq: 2},
		Op: &pb.ClientRequest_CheckAndSet{CheckAndSet: &pb.CheckAndSetRequest{
			HashKey: key, CheckSortKey: []byte("flag"), CheckType: pb.CheckType_CT_VALUE_NOT_EXIST,
			SetValue: []byte("once"), ReturnCheckValue: true,
		}},
	}
	// atPrimary sends req to the partition's primary until it is served
	// (a new primary refuses writes for a moment after its promotion).
	atPrimary := func(req *pb.ClientRequest) *pb.ClientResponse {
		t.Helper()
		for {
			if ctx.Err() != nil {
				t.Fatalf("no primary served %v", req.GetOp())
			}
			if primary := partition().GetPrimary(); primary != "" {
				if resp, err := rawCall(ctx, primary, req); err == nil {
					switch resp.GetError().GetCode() {
					case pb.ErrorCode_ERR_OK, pb.ErrorCode_ERR_UNKNOWN_OUTCOME, pb.ErrorCode_ERR_INVALID_DATA:
						return resp
					}
				}
			}
			time.Sleep(100 * time.Millisecond) // paces the polling of a changing configuration
		}
	}
	check := func(when string, i, c *pb.ClientResponse) {
		t.Helper()
		if i.GetError().GetCode() != pb.ErrorCode_ERR_OK || i.GetIncr().GetNewValue() != 5 {
			t.Errorf("%s: incr answered %v new_value=%d, want 5 (the original result)", when, i.GetError(), i.GetIncr().GetNewValue())
		}
		r := c.GetCheckAndSet()
		if c.GetError().GetCode() != pb.ErrorCode_ERR_OK || !r.GetSetSucceed() || r.GetCheckValueExist() {
			t.Errorf("%s: check_and_set answered %v %+v, want set_succeed with no check value (the original result)", when, c.GetError(), r)
		}
	}
	check("first execution", atPrimary(incr), atPrimary(cas))

	// A rolling restart of the secondaries: each comes back from its own
	// disk, with nothing of the writes in memory.
	before := partition()
	for _, s := range before.GetSecondaries() {
		if err := ob.Restart(ctx, nameOf(s)); err != nil {
			t.Fatal(err)
		}
		if err := ob.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The forced failover: the primary dies and a restarted secondary
	// takes over.
	victim := nameOf(partition().GetPrimary())
	if err := ob.Kill(victim); err != nil {
		t.Fatal(err)
	}
	for p := partition(); p.GetPrimary() == "" || nameOf(p.GetPrimary()) == victim; p = partition() {
		if ctx.Err() != nil {
			t.Fatalf("no new primary after %s was killed", victim)
		}
		time.Sleep(100 * time.Millisecond) // paces the polling of the meta server
	}
	check("retry at the new primary", atPrimary(incr), atPrimary(cas))

	c, err := client.New(ctx, client.Config{MetaServers: ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.Open(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	if v, found, err := tbl.Get(ctx, key, nil); err != nil || string(v) != "5" {
		t.Fatalf("counter = %q (found %v, %v) after one incr of 5 and its retries", v, found, err)
	}
	if err := ob.StartNode(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// rawCall sends one request on a new Data stream to addr and returns the
// answer.
func rawCall(ctx context.Context, addr string, req *pb.ClientRequest) (*pb.ClientResponse, error) {
	cc, err := grpc.NewClient(addr, append(rpc.ClientOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := pb.NewReplicaClientClient(cc).Data(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(req); err != nil {
		return nil, err
	}
	resp, err := st.Recv()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return resp, nil
}
