package dial

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/pegasus-go/pegasus/internal/rpc"
)

// Defaults of Options.
const (
	DefaultDialTimeout = 3 * time.Second
	DefaultCallTimeout = 10 * time.Second
	// DefaultMaxForwards bounds the ERR_FORWARD_TO_OTHERS redirects one
	// meta call follows, so that two meta servers that name each other
	// mid-election cannot loop.
	DefaultMaxForwards = 3
)

// Options say how servers are reached. Zero fields take the defaults.
type Options struct {
	// DialTimeout bounds connecting to one server.
	DialTimeout time.Duration
	// CallTimeout bounds one attempt at one server: connecting (at most
	// DialTimeout of it) and the call. A meta call that outlives it asks
	// the next meta server, so a hung leader costs one attempt, not the
	// caller's whole deadline.
	CallTimeout time.Duration
	// MaxForwards bounds the redirects one meta call follows.
	MaxForwards int
	// Keepalive probes idle connections, so that a server that vanished
	// without closing its sockets (power loss, a network partition) is
	// noticed within Time+Timeout and redialled, rather than after TCP's
	// own timeouts of many minutes. Replica servers use it towards their
	// peers; the servers must permit the probes.
	Keepalive *keepalive.ClientParameters
	// Credentials authenticate the caller. The zero value dials in
	// plaintext and presents nothing.
	Credentials Credentials
	// Dialer, when set, opens every connection in place of a plain TCP
	// dial: a caller that must reach the cluster from another network
	// namespace, or through a proxy. Nil dials TCP.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
}

// Credentials are what a caller shows the servers it dials.
type Credentials struct {
	// TLS, when set, is the client side of mutual TLS: the caller's
	// certificate and the authority that signs the servers'. Nil dials in
	// plaintext, which a server started with tls_require refuses.
	TLS *tls.Config
	// Token, when set, is sent as "authorization: Bearer <token>" with
	// every call: the admin credential of callers without an admin
	// certificate. Over plaintext it travels in the clear.
	Token string
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxForwards <= 0 {
		o.MaxForwards = DefaultMaxForwards
	}
	return o
}

// reconnectBackoff keeps gRPC's own redial of a restarting server short:
// a server restarted in a rolling upgrade is back within seconds and must
// be used again as soon as it listens, not after gRPC's default backoff
// of up to two minutes.
var reconnectBackoff = backoff.Config{
	BaseDelay:  50 * time.Millisecond,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   time.Second,
}

// NewClient returns a connection to addr with every option the roles
// share: the protocol-version header, message size limits, the short
// reconnection backoff, keepalive when asked, and the credentials. It does
// not connect yet. Callers that keep a connection of their own (data
// streams, peer replication, configuration pushes) dial with it; meta
// calls go through Conns.
func (o Options) NewClient(addr string) (*grpc.ClientConn, error) {
	o = o.withDefaults()
	opts := append(rpc.ClientOptions(),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnectBackoff, MinConnectTimeout: o.DialTimeout}),
	)
	if o.Credentials.TLS != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(o.Credentials.TLS)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.Credentials.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(o.Credentials.Token)))
	}
	if o.Keepalive != nil {
		opts = append(opts, grpc.WithKeepaliveParams(*o.Keepalive))
	}
	if o.Dialer != nil {
		opts = append(opts, grpc.WithContextDialer(o.Dialer))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	return cc, nil
}

// bearer sends an admin token with every call.
type bearer string

// AuthorizationHeader is the metadata key (and HTTP header) carrying a
// bearer token.
const AuthorizationHeader = "authorization"

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationHeader: "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false: a cluster without TLS may still
// protect its admin calls with a token (docs/security.md says what that
// leaves open).
func (bearer) RequireTransportSecurity() bool { return false }

// HTTPClient returns an HTTP client that presents the credentials: the
// TLS client configuration for https URLs, the token as
// "Authorization: Bearer" on every request.
func (c Credentials) HTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS.Clone()
	}
	var rt http.RoundTripper = tr
	if c.Token != "" {
		rt = bearerTransport{token: c.Token, next: tr}
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// HTTPScheme is the URL scheme the servers' HTTP listeners speak to a
// caller with these credentials: https with TLS.
func (c Credentials) HTTPScheme() string {
	if c.TLS != nil {
		return "https"
	}
	return "http"
}

type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
