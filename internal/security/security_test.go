package security

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/netguard"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// issue makes an authority in dir and a certificate of role for nodes,
// and returns its TLS identity.
func issue(t *testing.T, ca *CA, name, role string, nodes ...string) *TLS {
	t.Helper()
	certPath, keyPath, err := ca.Issue(CertRequest{Name: name, Role: role, Nodes: nodes, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadTLS(Files{CA: filepath.Join(ca.Dir(), CAFile), Cert: certPath, Key: keyPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := CreateCA(t.TempDir(), "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// echo serves a TLS-or-not listener that writes back what it reads.
func echo(t *testing.T, cfg netguard.Config) string {
	t.Helper()
	ln, err := netguard.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != "ping" {
		return errors.New("echo mismatch")
	}
	return nil
}

func TestMutualTLSAcceptsOnlyTheClustersCertificates(t *testing.T) {
	ca := newCA(t)
	server := issue(t, ca, "replica1", RoleReplica, "127.0.0.1:34801")
	client := issue(t, ca, "client", RoleClient)
	other := issue(t, newCA(t), "intruder", RoleAdmin)

	addr := echo(t, netguard.Config{TLS: server.ServerConfig(), RequireTLS: true})
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return err
		}
		return roundTrip(c)
	}
	if err := dial(client.ClientConfig()); err != nil {
		t.Fatalf("a client of the cluster: %v", err)
	}
	// A client that trusts the cluster's authority but presents a
	// certificate of another: the server must be the one refusing.
	intruder := client.ClientConfig()
	intruder.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cert, _ := other.current()
		return cert, nil
	}
	if err := dial(intruder); err == nil {
		t.Fatal("a client with a certificate of another authority was served")
	}
	// A client with no certificate at all.
	bare := client.ClientConfig()
	bare.GetClientCertificate = nil
	if err := dial(bare); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// Plaintext is closed at once.
	pc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(pc); err == nil {
		t.Fatal("a plaintext client was served by a TLS-only listener")
	}
	// The server's name is checked too: a client dialling a name the
	// certificate does not carry refuses it.
	wrong := client.ClientConfig()
	wrong.ServerName = "elsewhere.example"
	if err := dial(wrong); err == nil {
		t.Fatal("a server certificate for another name was accepted")
	}
}

func TestOptionalTLSServesBoth(t *testing.T) {
	ca := newCA(t)
	server := issue(t, ca, "meta1", RoleMeta, "127.0.0.1:34601")
	client := issue(t, ca, "client", RoleClient)
	addr := echo(t, netguard.Config{TLS: server.ServerConfig()})
	c, err := tls.Dial("tcp", addr, client.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	pc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(pc); err != nil {
		t.Fatalf("plaintext on an optional-TLS listener: %v", err)
	}
}

// A certificate issued anew (same name) is used from the next handshake
// on, without a restart.
func TestCertificateReload(t *testing.T) {
	ca := newCA(t)
	server := issue(t, ca, "replica1", RoleReplica, "127.0.0.1:34801")
	before := server.Identity().NotAfter
	if _, _, err := ca.Issue(CertRequest{Name: "replica1", Role: RoleReplica, Nodes: []string{"127.0.0.1:34801"}, Validity: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Modification times may share a second with the first issue.
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{"replica1.pem", "replica1-key.pem"} {
		os.Chtimes(filepath.Join(ca.Dir(), f), later, later)
	}
	deadline := time.Now().Add(10 * time.Second)
	for server.Identity().NotAfter.Equal(before) {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was never picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := server.Identity().NotAfter; got.After(time.Now().Add(49 * time.Hour)) {
		t.Fatalf("reloaded certificate expires %v", got)
	}
}

func TestIdentityOfIssuedCertificate(t *testing.T) {
	ca := newCA(t)
	id := issue(t, ca, "replica2", RoleReplica, "127.0.0.1:34802", "10.0.0.2:34802").Identity()
	if id.Role != RoleReplica || id.Name != "replica2" || !id.Speaks("10.0.0.2:34802") || id.Speaks("127.0.0.1:34801") {
		t.Fatalf("identity %+v", id)
	}
	if _, _, err := ca.Issue(CertRequest{Name: "x", Role: "root"}); err == nil {
		t.Fatal("an unknown role was issued")
	}
}

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokens(t *testing.T) {
	p := writeTokens(t, "# operators\nalice 0123456789abcdef0123\n  fedcba9876543210fedc \n")
	tok, err := LoadTokens(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := tok.Check("0123456789abcdef0123"); !ok || name != "alice" {
		t.Fatalf("alice: %q %v", name, ok)
	}
	if name, ok := tok.Check("fedcba9876543210fedc"); !ok || !strings.HasPrefix(name, "token:") {
		t.Fatalf("unnamed: %q %v", name, ok)
	}
	if _, ok := tok.Check("0123456789abcdef012"); ok {
		t.Fatal("a prefix of a token was accepted")
	}
	if _, err := LoadTokens(writeTokens(t, "short\n"), nil); !errors.Is(err, ErrTokens) {
		t.Fatalf("short token: %v", err)
	}
	if got, err := ReadTokenFile(p); err != nil || got != "0123456789abcdef0123" {
		t.Fatalf("ReadTokenFile = %q, %v", got, err)
	}
}

// fakeMeta counts the calls that reach it.
type fakeMeta struct {
	pb.UnimplementedMetaServer
	drops int
}

func (m *fakeMeta) DropTable(context.Context, *pb.DropTableRequest) (*pb.DropTableResponse, error) {
	m.drops++
	return &pb.DropTableResponse{}, nil
}

func (m *fakeMeta) ListTables(context.Context, *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	return &pb.ListTablesResponse{}, nil
}

func (m *fakeMeta) Beacon(_ context.Context, req *pb.BeaconRequest) (*pb.BeaconResponse, error) {
	return &pb.BeaconResponse{Allowed: true}, nil
}

// serveMeta serves m with auth over a TLS-or-not netguard listener.
func serveMeta(t *testing.T, m pb.MetaServer, auth *Authorizer, serverTLS *TLS) string {
	t.Helper()
	cfg := netguard.Config{}
	if serverTLS != nil {
		cfg.TLS = serverTLS.ServerConfig("h2")
		cfg.RequireTLS = true
	}
	ln, err := netguard.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(rpc.ServerOptions(), auth.ServerOptions()...)
	opts = append(opts, grpc.Creds(netguard.ServerCredentials()))
	s := grpc.NewServer(opts...)
	pb.RegisterMetaServer(s, m)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func metaClient(t *testing.T, addr string, id *TLS) pb.MetaClient {
	t.Helper()
	opts := rpc.ClientOptions()
	if id != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(id.ClientConfig())))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewMetaClient(cc)
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func TestAdminCallsNeedACredential(t *testing.T) {
	var audit bytes.Buffer
	tok, err := LoadTokens(writeTokens(t, "ops 0123456789abcdef0123\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMeta{}
	addr := serveMeta(t, m, NewAuthorizer(AuthConfig{Tokens: tok, Audit: NewAudit(&audit)}), nil)
	mc := metaClient(t, addr, nil)
	ctx := context.Background()

	if _, err := mc.DropTable(ctx, &pb.DropTableRequest{Name: "t"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("drop without a credential: %v", err)
	}
	if _, err := mc.DropTable(withToken(ctx, "wrong-token-wrong-token"), &pb.DropTableRequest{Name: "t"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("drop with a bad token: %v", err)
	}
	if m.drops != 0 {
		t.Fatal("a refused drop reached the handler")
	}
	if _, err := mc.DropTable(withToken(ctx, "0123456789abcdef0123"), &pb.DropTableRequest{Name: "t"}); err != nil || m.drops != 1 {
		t.Fatalf("drop with the token: %v (drops %d)", err, m.drops)
	}
	// Reads need nothing.
	if _, err := mc.ListTables(ctx, &pb.ListTablesRequest{}); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	log := audit.String()
	for _, want := range []string{`"who":"anonymous"`, `"result":"denied: `, `"who":"ops"`, `"result":"ok"`, `name:\"t\"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
}

func TestInternalCallsNeedTheirRole(t *testing.T) {
	ca := newCA(t)
	server := issue(t, ca, "meta1", RoleMeta, "127.0.0.1:34601")
	policy := DefaultPolicy().With(pb.Meta_Beacon_FullMethodName, func(_ context.Context, id *Identity, req any) error {
		if id != nil && !id.Speaks(req.(*pb.BeaconRequest).GetNode()) {
			return errors.New("beacon for another node")
		}
		return nil
	})
	m := &fakeMeta{}
	addr := serveMeta(t, m, NewAuthorizer(AuthConfig{TLS: true, Policy: policy}), server)
	ctx := context.Background()

	replica := metaClient(t, addr, issue(t, ca, "replica1", RoleReplica, "127.0.0.1:34801"))
	if _, err := replica.Beacon(ctx, &pb.BeaconRequest{Node: "127.0.0.1:34801"}); err != nil {
		t.Fatalf("own beacon: %v", err)
	}
	if _, err := replica.Beacon(ctx, &pb.BeaconRequest{Node: "127.0.0.1:34802"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("beacon naming another node: %v", err)
	}
	client := metaClient(t, addr, issue(t, ca, "app", RoleClient))
	if _, err := client.Beacon(ctx, &pb.BeaconRequest{Node: "127.0.0.1:34801"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("beacon from a client certificate: %v", err)
	}
	if _, err := client.DropTable(ctx, &pb.DropTableRequest{Name: "t"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("drop from a client certificate: %v", err)
	}
	admin := metaClient(t, addr, issue(t, ca, "alice", RoleAdmin))
	if _, err := admin.DropTable(ctx, &pb.DropTableRequest{Name: "t"}); err != nil || m.drops != 1 {
		t.Fatalf("drop from an admin certificate: %v", err)
	}
}

func TestHTTPAdmin(t *testing.T) {
	tok, err := LoadTokens(writeTokens(t, "0123456789abcdef0123\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	a := NewAuthorizer(AuthConfig{Tokens: tok, Audit: NewAudit(&audit)})
	calls := 0
	srv := httptest.NewServer(a.HTTPAdmin("POST /api/rolling", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
	})))
	defer srv.Close()
	post := func(header map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(nil); code != http.StatusUnauthorized {
		t.Fatalf("no credential: %d", code)
	}
	// A page elsewhere making the operator's browser post, token or not.
	if code := post(map[string]string{"Authorization": "Bearer 0123456789abcdef0123", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}); code != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", code)
	}
	if calls != 0 {
		t.Fatal("a refused request reached the handler")
	}
	if code := post(map[string]string{"Authorization": "Bearer 0123456789abcdef0123"}); code != http.StatusOK || calls != 1 {
		t.Fatalf("with the token: %d (calls %d)", code, calls)
	}
	if !strings.Contains(audit.String(), `"result":"http 200"`) {
		t.Errorf("audit log: %s", audit.String())
	}
}
