package security

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Need is what a call requires of its caller.
type Need uint8

const (
	// Anyone: data operations and reads of the cluster's state. With
	// mutual TLS the caller still needs a certificate of the cluster to
	// connect at all.
	Anyone Need = iota
	// Admin: DDL, meta levels, knobs, remote commands, drains, the roll.
	// The caller presents a certificate of role admin or an admin token.
	Admin
	// Internal: calls between the roles. With mutual TLS the caller's
	// certificate must carry one of Rule.Roles; without TLS (or from a
	// plaintext caller while TLS is optional) nothing can be checked.
	Internal
)

// Rule is what one gRPC method requires.
type Rule struct {
	Need  Need
	Roles []string
	// ReadOnly, on an Admin rule, tells requests that change nothing
	// (MetaLevel without a level): they need no admin right.
	ReadOnly func(req any) bool
	// Check runs after the role check, with the caller's verified
	// identity (nil without a certificate) and the request: the checks
	// that depend on both, such as a beacon's node being the
	// certificate's. Its error reaches the caller as PermissionDenied.
	Check func(ctx context.Context, id *Identity, req any) error
}

// Policy maps full gRPC method names to their rule. A method missing from
// the policy needs an admin credential: a new method is closed until it is
// given a rule.
type Policy map[string]Rule

// DefaultPolicy is the rule of every method of the cluster's services.
// Servers add their Check functions to a copy (With).
func DefaultPolicy() Policy {
	internal := func(roles ...string) Rule { return Rule{Need: Internal, Roles: roles} }
	return Policy{
		pb.Meta_Beacon_FullMethodName:        internal(RoleReplica),
		pb.Meta_ProposeConfig_FullMethodName: internal(RoleReplica),
		pb.Meta_QueryConfig_FullMethodName:   {Need: Anyone},
		pb.Meta_ListTables_FullMethodName:    {Need: Anyone},
		pb.Meta_ListNodes_FullMethodName:     {Need: Anyone},
		pb.Meta_ClusterInfo_FullMethodName:   {Need: Anyone},
		pb.Meta_CreateTable_FullMethodName:   {Need: Admin},
		pb.Meta_DropTable_FullMethodName:     {Need: Admin},
		pb.Meta_UpdateAppEnv_FullMethodName:  {Need: Admin},
		pb.Meta_MetaLevel_FullMethodName: {Need: Admin, ReadOnly: func(req any) bool {
			r, ok := req.(*pb.MetaLevelRequest)
			return ok && r.GetLevel() == ""
		}},
		pb.Meta_MigrateNode_FullMethodName:   {Need: Admin},
		pb.Meta_DowngradeNode_FullMethodName: {Need: Admin},
		pb.Meta_RemoteCommand_FullMethodName: {Need: Admin},

		pb.ReplicaClient_Data_FullMethodName: {Need: Anyone},

		pb.ReplicaPeer_Replicate_FullMethodName:       internal(RoleReplica),
		pb.ReplicaPeer_FetchCheckpoint_FullMethodName: internal(RoleReplica),

		pb.ReplicaAdmin_UpdateConfig_FullMethodName:  internal(RoleMeta),
		pb.ReplicaAdmin_Status_FullMethodName:        {Need: Anyone},
		pb.ReplicaAdmin_RemoteCommand_FullMethodName: {Need: Admin},
	}
}

// With returns a copy of p with check added to method's rule.
func (p Policy) With(method string, check func(ctx context.Context, id *Identity, req any) error) Policy {
	out := make(Policy, len(p))
	for k, v := range p {
		out[k] = v
	}
	r := out[method]
	r.Check = check
	out[method] = r
	return out
}

// AuthConfig configures an Authorizer.
type AuthConfig struct {
	// TLS says the server runs mutual TLS: certificates identify callers.
	TLS bool
	// Tokens are the admin tokens accepted; nil accepts none.
	Tokens *Tokens
	// Audit receives every admin action; nil records nothing.
	Audit *Audit
	// Policy is the rule of each method; nil means DefaultPolicy().
	Policy Policy
	Logger *slog.Logger
}

// Authorizer decides who may make which call, on gRPC and HTTP alike.
//
// A server with neither TLS nor admin tokens configured cannot tell one
// caller from another: it lets every call through (the behaviour of a
// cluster before this existed) and warns at start; a onebox always
// configures a token.
type Authorizer struct {
	cfg     AuthConfig
	enforce bool
}

// NewAuthorizer returns an authorizer for cfg.
func NewAuthorizer(cfg AuthConfig) *Authorizer {
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Authorizer{cfg: cfg, enforce: cfg.TLS || cfg.Tokens != nil}
}

// Enforcing reports whether admin calls need a credential.
func (a *Authorizer) Enforcing() bool { return a.enforce }

// Audit returns the audit log (nil when none).
func (a *Authorizer) Audit() *Audit { return a.cfg.Audit }

// ServerOptions install the checks on a gRPC server (after the protocol
// version check of internal/rpc).
func (a *Authorizer) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.unary),
		grpc.ChainStreamInterceptor(a.stream),
	}
}

// caller is who makes a call, as far as the server can tell.
type caller struct {
	id      Identity
	hasCert bool
	token   string
	peer    string
}

func grpcCaller(ctx context.Context) caller {
	var c caller
	c.id, c.hasCert = PeerIdentity(ctx)
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		c.peer = p.Addr.String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			c.token = bearerToken(v[0])
		}
	}
	return c
}

// adminName returns who the caller is as an admin, or an error saying why
// it is not one.
func (a *Authorizer) adminName(c caller) (string, error) {
	if c.hasCert && c.id.Role == RoleAdmin {
		return c.id.String(), nil
	}
	if c.token != "" {
		if name, ok := a.cfg.Tokens.Check(c.token); ok {
			return name, nil
		}
		return "", fmt.Errorf("%w: the admin token presented is not valid", ErrDenied)
	}
	if !a.enforce {
		return "anonymous", nil
	}
	if c.hasCert {
		return "", fmt.Errorf("%w: %s is not an admin (certificate role admin or an admin token needed)", ErrDenied, c.id)
	}
	return "", fmt.Errorf("%w: admin credential needed (certificate role admin or an admin token)", ErrUnauthenticated)
}

// who names the caller for the audit log.
func (c caller) who() string {
	if c.hasCert {
		return c.id.String()
	}
	return "anonymous"
}

func (a *Authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	rule, known := a.cfg.Policy[info.FullMethod]
	if !known {
		rule = Rule{Need: Admin}
	}
	c := grpcCaller(ctx)
	switch {
	case rule.Need == Admin && (rule.ReadOnly == nil || !rule.ReadOnly(req)):
		return a.admin(ctx, c, info.FullMethod, req, handler)
	case rule.Need == Internal:
		if err := a.internal(c, info.FullMethod, rule); err != nil {
			return nil, err
		}
	}
	if rule.Check != nil {
		var id *Identity
		if c.hasCert {
			id = &c.id
		}
		if err := rule.Check(ctx, id, req); err != nil {
			a.cfg.Logger.Warn("call refused", "method", info.FullMethod, "caller", c.who(), "peer", c.peer, "err", err)
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
	}
	return handler(ctx, req)
}

// admin runs an admin call for an admin caller, and records it.
func (a *Authorizer) admin(ctx context.Context, c caller, method string, req any, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	entry := Entry{Peer: c.peer, Action: method, Args: requestText(req)}
	name, err := a.adminName(c)
	if err != nil {
		entry.Who, entry.Result = c.who(), "denied: "+err.Error()
		a.cfg.Audit.Record(entry)
		code := codes.PermissionDenied
		if errors.Is(err, ErrUnauthenticated) {
			code = codes.Unauthenticated
		}
		return nil, status.Error(code, err.Error())
	}
	entry.Who = name
	resp, err := handler(ctx, req)
	entry.Took = time.Since(start)
	entry.Result = resultText(resp, err)
	a.cfg.Audit.Record(entry)
	return resp, err
}

// internal checks the role of a role-to-role call.
func (a *Authorizer) internal(c caller, method string, rule Rule) error {
	if !c.hasCert {
		return nil
	}
	for _, r := range rule.Roles {
		if c.id.Role == r {
			return nil
		}
	}
	err := fmt.Errorf("%w: %s may not call %s (roles allowed: %v)", ErrDenied, c.id, method, rule.Roles)
	a.cfg.Logger.Warn("call refused", "method", method, "caller", c.who(), "peer", c.peer, "err", err)
	return status.Error(codes.PermissionDenied, err.Error())
}

func (a *Authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	rule, known := a.cfg.Policy[info.FullMethod]
	if !known {
		rule = Rule{Need: Admin}
	}
	c := grpcCaller(ss.Context())
	switch rule.Need {
	case Admin:
		if _, err := a.adminName(c); err != nil {
			return status.Error(codes.PermissionDenied, err.Error())
		}
	case Internal:
		if err := a.internal(c, info.FullMethod, rule); err != nil {
			return err
		}
	}
	return handler(srv, ss)
}

// requestText renders a request for the audit log, bounded.
func requestText(req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	b, err := prototext.MarshalOptions{}.Marshal(m)
	if err != nil {
		return ""
	}
	const limit = 1024
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}

// resultText renders an admin call's outcome: its gRPC error, else the
// error code its response carries.
func resultText(resp any, err error) string {
	if err != nil {
		return "error: " + status.Convert(err).Message()
	}
	if r, ok := resp.(interface{ GetError() *pb.Error }); ok {
		if e := r.GetError(); e.GetCode() != pb.ErrorCode_ERR_OK {
			if e.GetMessage() != "" {
				return e.GetCode().String() + ": " + e.GetMessage()
			}
			return e.GetCode().String()
		}
	}
	return "ok"
}

// IsAdmin reports whether a gRPC caller holds an admin credential (or the
// server checks none): for answers that show more to admins, such as the
// etcd endpoints in ClusterInfo.
func (a *Authorizer) IsAdmin(ctx context.Context) bool {
	_, err := a.adminName(grpcCaller(ctx))
	return err == nil
}
