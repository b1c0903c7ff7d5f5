package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"google.golang.org/grpc/credentials"
)

// ServerCredentials are the transport credentials of a gRPC server that
// serves a Listener: for a connection the Listener served over TLS (its
// handshake is done by then), the peer's verified certificate chain
// reaches the server's interceptors as credentials.TLSInfo; a plaintext
// connection (allowed only when TLS is optional) passes as it is.
func ServerCredentials() credentials.TransportCredentials { return serverCreds{} }

type serverCreds struct{}

var errClientSide = errors.New("netguard: server credentials cannot dial")

func (serverCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errClientSide
}

func (serverCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return c, plaintextInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
	}
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return nil, nil, err
	}
	return tc, credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (serverCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (s serverCreds) Clone() credentials.TransportCredentials { return s }

func (serverCreds) OverrideServerName(string) error { return nil }

// plaintextInfo is the AuthInfo of a plaintext connection.
type plaintextInfo struct {
	credentials.CommonAuthInfo
}

func (plaintextInfo) AuthType() string { return "insecure" }
