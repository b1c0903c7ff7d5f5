package onebox

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
)

// metaProcesses returns the meta server processes.
func (c *Cluster) metaProcesses() []Process {
	var out []Process
	for _, p := range c.static {
		if p.Role == RoleMeta {
			out = append(out, p)
		}
	}
	return out
}

// checkAdminNeedsCredential: an admin call without a credential is refused
// and changes nothing; reads need none; the etcd endpoints go to admins
// only (issue 16, findings 5 and 8).
func checkAdminNeedsCredential(ctx context.Context, t *testing.T, c *Cluster, table string) {
	t.Helper()
	anon := dial.New(c.MetaAddrs(), dial.Options{Credentials: dial.Credentials{TLS: c.creds.TLS}})
	defer anon.Close()
	drop, err := dial.CallMeta(ctx, anon, func(ctx context.Context, m pb.MetaClient) (*pb.DropTableResponse, error) {
		return m.DropTable(ctx, &pb.DropTableRequest{Name: table})
	})
	if !errors.Is(err, dial.ErrDenied) {
		t.Fatalf("drop without a credential: %v, %v", drop, err)
	}
	level, err := dial.CallMeta(ctx, anon, func(ctx context.Context, m pb.MetaClient) (*pb.MetaLevelResponse, error) {
		return m.MetaLevel(ctx, &pb.MetaLevelRequest{Level: "freezed"})
	})
	if !errors.Is(err, dial.ErrDenied) {
		t.Fatalf("set_meta_level without a credential: %v, %v", level, err)
	}
	tables, err := dial.CallMeta(ctx, anon, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
		return m.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err != nil || len(tables.GetTables()) == 0 || tables.GetTables()[0].GetTable().GetName() != table {
		t.Fatalf("the table after a refused drop: %v, %v", tables, err)
	}
	info, err := dial.CallMeta(ctx, anon, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil || info.GetEtcdEndpoints() != "" || info.GetMetaFunctionLevel() != "steady" {
		t.Fatalf("cluster_info without a credential: %v, %v", info, err)
	}
	admin := dial.New(c.MetaAddrs(), dial.Options{Credentials: c.creds})
	defer admin.Close()
	info, err = dial.CallMeta(ctx, admin, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil || info.GetEtcdEndpoints() == "" {
		t.Fatalf("cluster_info as admin: %v, %v", info, err)
	}
}

// checkPrivateFiles: a server's directories are 0700 and its files 0600
// at most (finding 8: data directories were 0755, files 0644).
func checkPrivateFiles(t *testing.T, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable by others", path, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d entries under %s", n, root)
	}
}

// TestE2ETLSOnebox: a onebox with mutual TLS everywhere serves a client
// with its certificate, refuses a plaintext client and one with a
// certificate of another authority, and ties every role-to-role call to
// the certificate's role and node.
func TestE2ETLSOnebox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole cluster")
	}
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, "meta", "replica")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := Start(ctx, Options{
		Dir: dir, Binary: bin, Metas: 2, Replicas: 3, TLS: true,
		Tuning: Tuning{
			Meta:    oneboxtest.FastMeta,
			Replica: func(r *config.Replica) { oneboxtest.FastReplica(r); r.LogSync = false },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.StopAll(); c.Close() })
	creds := c.Credentials()
	if creds.TLS == nil || creds.Token == "" {
		t.Fatalf("onebox credentials: TLS %v, token %q", creds.TLS != nil, creds.Token)
	}
	admin := dial.New(c.MetaAddrs(), dial.Options{Credentials: creds})
	defer admin.Close()
	if resp, err := dial.CallMeta(ctx, admin, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: "tls_e2e", PartitionCount: 4, ReplicaCount: 3})
	}); err != nil || resp.GetError() != nil {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	// A client of the cluster: certificate of role client.
	ca, err := security.LoadCA(filepath.Join(dir, certsDir))
	if err != nil {
		t.Fatal(err)
	}
	clientTLS := issueTLS(t, ca, "app", security.RoleClient)
	cl, err := client.New(ctx, client.Config{MetaServers: c.MetaAddrs(), TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tb, err := cl.Open(ctx, "tls_e2e")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		k := []byte{byte('a' + i%26), byte(i)}
		if err := tb.Set(ctx, k, []byte("s"), k, 0); err != nil {
			t.Fatalf("set over TLS: %v", err)
		}
		if v, ok, err := tb.Get(ctx, k, []byte("s")); err != nil || !ok || string(v) != string(k) {
			t.Fatalf("get over TLS: %q %v %v", v, ok, err)
		}
	}

	// A plaintext client is refused.
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if plain, err := client.New(short, client.Config{MetaServers: c.MetaAddrs(), DialTimeout: 2 * time.Second}); err == nil {
		plain.Close()
		t.Fatal("a plaintext client connected to a TLS-only cluster")
	}
	// A client with a certificate of another authority is refused by the
	// servers (it trusts the cluster's authority, so the refusal is theirs).
	other, err := security.CreateCA(t.TempDir(), "other", 0)
	if err != nil {
		t.Fatal(err)
	}
	intruder := issueTLS(t, other, "intruder", security.RoleAdmin)
	intruder.VerifyConnection = clientTLS.VerifyConnection
	if cl2, err := client.New(short, client.Config{MetaServers: c.MetaAddrs(), TLS: intruder, DialTimeout: 2 * time.Second}); err == nil {
		cl2.Close()
		t.Fatal("a client with a certificate of another authority connected")
	}

	// An authenticated client is no admin: its drop is refused, nothing
	// changes.
	checkAdminNeedsCredential(ctx, t, &Cluster{static: c.static, creds: dial.Credentials{TLS: clientTLS, Token: creds.Token}}, "tls_e2e")
	if v, ok, err := tb.Get(ctx, []byte{'a', 0}, []byte("s")); err != nil || !ok || string(v) != "a\x00" {
		t.Fatalf("data after a refused drop: %q %v %v", v, ok, err)
	}

	// Role-to-role calls: a replica's certificate speaks for its own node
	// only, a follower meta does not push.
	reps := c.Replicas()
	r1 := processTLS(t, dir, reps[0].Name)
	asR1 := dial.New(c.MetaAddrs(), dial.Options{Credentials: dial.Credentials{TLS: r1}})
	defer asR1.Close()
	_, err = dial.CallMeta(ctx, asR1, func(ctx context.Context, m pb.MetaClient) (*pb.ProposeConfigResponse, error) {
		return m.ProposeConfig(ctx, &pb.ProposeConfigRequest{Node: reps[1].Address, Proposals: []*pb.ConfigProposal{{
			Gpid: &pb.Gpid{AppId: 1}, Type: pb.ConfigType_CT_DOWNGRADE_TO_INACTIVE, Node: reps[2].Address}}})
	})
	if !errors.Is(err, dial.ErrDenied) {
		t.Fatalf("a proposal in another replica's name: %v", err)
	}
	_, err = dial.CallMeta(ctx, asR1, func(ctx context.Context, m pb.MetaClient) (*pb.BeaconResponse, error) {
		return m.Beacon(ctx, &pb.BeaconRequest{Node: reps[1].Address, StartTimeMs: time.Now().UnixMilli()})
	})
	if !errors.Is(err, dial.ErrDenied) {
		t.Fatalf("a beacon in another replica's name: %v", err)
	}
	push := func(as *tls.Config, target string) error {
		conns := dial.New(nil, dial.Options{Credentials: dial.Credentials{TLS: as}})
		defer conns.Close()
		_, err := dial.CallServer(ctx, conns, target, (*dial.Conns).ReplicaAdmin,
			func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.ConfigUpdateResponse, error) {
				return r.UpdateConfig(ctx, &pb.ConfigUpdateRequest{})
			})
		return err
	}
	if err := push(r1, reps[1].Address); !errors.Is(err, dial.ErrDenied) {
		t.Fatalf("a push from a replica's certificate: %v", err)
	}
	leader := ""
	info, err := dial.CallMeta(ctx, admin, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil {
		t.Fatal(err)
	}
	leader = info.GetLeader()
	for _, m := range c.metaProcesses() {
		as := processTLS(t, dir, m.Name)
		err := push(as, reps[1].Address)
		if m.Address == leader && err != nil {
			t.Fatalf("a push from the leader %s: %v", m.Address, err)
		}
		if m.Address != leader && !errors.Is(err, dial.ErrDenied) {
			t.Fatalf("a push from the follower %s: %v", m.Address, err)
		}
	}
	// A meta server of another cluster (a certificate of role meta from
	// another authority) cannot push either: the handshake fails.
	foreignMeta := issueTLS(t, other, "meta-elsewhere", security.RoleMeta)
	foreignMeta.VerifyConnection = clientTLS.VerifyConnection
	if err := push(foreignMeta, reps[1].Address); err == nil || errors.Is(err, dial.ErrDenied) {
		t.Fatalf("a push from another cluster's meta server: %v (want a failed handshake)", err)
	}

	// FetchCheckpoint (a copy of a whole store): a client's certificate
	// may not ask; a replica server's only for itself.
	fetch := func(as *tls.Config, learner string) error {
		cc, err := dial.Options{Credentials: dial.Credentials{TLS: as}}.NewClient(reps[0].Address)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		st, err := pb.NewReplicaPeerClient(cc).FetchCheckpoint(ctx, &pb.CheckpointRequest{Gpid: &pb.Gpid{AppId: 1}, Learner: learner})
		if err != nil {
			return err
		}
		chunk, err := st.Recv()
		if err != nil {
			return err
		}
		if chunk.GetError() != nil {
			return errors.New(chunk.GetError().String())
		}
		return nil
	}
	if err := fetch(clientTLS, reps[1].Address); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a checkpoint asked with a client's certificate: %v", err)
	}
	r2 := processTLS(t, dir, reps[1].Name)
	if err := fetch(r2, reps[2].Address); err == nil {
		t.Fatal("a replica server fetched a checkpoint in another's name")
	}

	checkPrivateFiles(t, filepath.Join(dir, reps[0].Dir))
	checkPrivateFiles(t, filepath.Join(dir, certsDir))
}

// issueTLS issues a certificate of ca and returns its client
// configuration.
func issueTLS(t *testing.T, ca *security.CA, name, role string, nodes ...string) *tls.Config {
	t.Helper()
	certPath, keyPath, err := ca.Issue(security.CertRequest{Name: name, Role: role, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	return loadTLS(t, filepath.Join(ca.Dir(), security.CAFile), certPath, keyPath)
}

// processTLS returns the client configuration of a onebox process's own
// certificate.
func processTLS(t *testing.T, dir, name string) *tls.Config {
	t.Helper()
	cert, key := security.CertFiles(filepath.Join(dir, certsDir), name)
	return loadTLS(t, filepath.Join(dir, certsDir, security.CAFile), cert, key)
}

func loadTLS(t *testing.T, ca, cert, key string) *tls.Config {
	t.Helper()
	id, err := security.LoadTLS(security.Files{CA: ca, Cert: cert, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id.ClientConfig()
}
