package redisproxy

import (
	"context"

	"github.com/tidwall/redcon"

	"github.com/pegasus-go/pegasus/internal/version"
)

// PING [message]
func cmdPing(_ context.Context, _ *Server, args [][]byte, out []byte) []byte {
	switch len(args) {
	case 1:
		return redcon.AppendString(out, "PONG")
	case 2:
		return redcon.AppendBulk(out, args[1])
	}
	return appendWrongArity(out, "ping")
}

// ECHO message
func cmdEcho(_ context.Context, _ *Server, args [][]byte, out []byte) []byte {
	return redcon.AppendBulk(out, args[1])
}

// SELECT index
//
// A Pegasus table is one keyspace, the proxy's database 0. Accepting SELECT 0
// keeps clients that always send it (most do when configured with a
// database number) working.
func cmdSelect(_ context.Context, _ *Server, args [][]byte, out []byte) []byte {
	db, ok := parseInt(args[1])
	switch {
	case !ok:
		return redcon.AppendError(out, msgNotInteger)
	case db != 0:
		return redcon.AppendError(out, msgDBOutOfRange)
	}
	return redcon.AppendOK(out)
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
//
// The proxy speaks RESP2 only. HELLO 3 gets NOPROTO, as from a Redis that
// cannot switch, and clients then carry on in RESP2 (go-redis v9 and
// redis-py do exactly that).
// SETNAME is accepted and ignored, since no command here would show the name.
// AUTH authenticates as the AUTH command does (see authGate).
func cmdHello(_ context.Context, s *Server, args [][]byte, out []byte) []byte {
	if len(args) > 1 {
		proto, ok := parseInt(args[1])
		switch {
		case !ok:
			return redcon.AppendError(out, "ERR Protocol version is not an integer or out of range")
		case proto != 2:
			return redcon.AppendError(out, msgNoProto)
		}
		for i := 2; i < len(args); i++ {
			switch opt := string(args[i]); {
			case equalFold(opt, "auth") && i+2 < len(args):
				if s.cfg.Password == "" {
					return redcon.AppendError(out, msgNoPassword)
				}
				// The password was checked before the command ran
				// (authGate).
				i += 2
			case equalFold(opt, "setname") && i+1 < len(args):
				i++
			default:
				return redcon.AppendError(out, sanitize("ERR Syntax error in HELLO option '"+clip(args[i], 128)+"'"))
			}
		}
	}
	// RESP2 has no map type: a map is an array of alternating keys and values.
	out = redcon.AppendArray(out, 12)
	out = redcon.AppendBulkString(out, "server")
	out = redcon.AppendBulkString(out, "pegasus")
	out = redcon.AppendBulkString(out, "version")
	out = redcon.AppendBulkString(out, version.Release())
	out = redcon.AppendBulkString(out, "proto")
	out = redcon.AppendInt(out, 2)
	out = redcon.AppendBulkString(out, "mode")
	out = redcon.AppendBulkString(out, "standalone")
	out = redcon.AppendBulkString(out, "role")
	out = redcon.AppendBulkString(out, "master")
	out = redcon.AppendBulkString(out, "modules")
	return redcon.AppendArray(out, 0)
}

// QUIT
//
// The reply is +OK; the pipeline runner sees QUIT, runs nothing after it
// and closes the connection once the replies are written.
func cmdQuit(_ context.Context, _ *Server, _ [][]byte, out []byte) []byte {
	return redcon.AppendOK(out)
}
