package redisproxy

import (
	"crypto/sha256"
	"crypto/subtle"

	"github.com/tidwall/redcon"
)

// Replies of Redis' authentication, word for word: clients match on them.
const (
	msgNoAuth      = "NOAUTH Authentication required."
	msgWrongPass   = "WRONGPASS invalid username-password pair or user is disabled."
	msgNoPassword  = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	msgHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
)

// authGate handles AUTH, and with Config.Password set keeps every other
// command but HELLO (with its AUTH option) and QUIT from a connection that
// has not authenticated, as Redis does with requirepass. handled reports
// that reply is the command's whole answer.
//
// Redis' user model is reduced to its default user: "AUTH password" and
// "AUTH default password" are accepted.
func (s *Server) authGate(st *connState, args [][]byte, out []byte) (reply []byte, handled bool) {
	name := args[0]
	switch {
	case equalFold(string(name), "auth"):
		var user, pass []byte
		switch len(args) {
		case 2:
			pass = args[1]
		case 3:
			user, pass = args[1], args[2]
		default:
			return appendWrongArity(out, "auth"), true
		}
		if s.cfg.Password == "" {
			return redcon.AppendError(out, msgNoPassword), true
		}
		if !s.passwordMatches(user, pass) {
			// A failed AUTH leaves an authenticated connection as it was.
			return redcon.AppendError(out, msgWrongPass), true
		}
		st.authed = true
		return redcon.AppendOK(out), true
	case s.cfg.Password == "":
		return nil, false
	case equalFold(string(name), "hello"):
		for i := 2; i < len(args); i++ {
			if equalFold(string(args[i]), "auth") && i+2 < len(args) {
				if !s.passwordMatches(args[i+1], args[i+2]) {
					return redcon.AppendError(out, msgWrongPass), true
				}
				st.authed = true
				return nil, false
			}
		}
		if !st.authed {
			return redcon.AppendError(out, msgHelloNoAuth), true
		}
		return nil, false
	case equalFold(string(name), "quit"):
		return nil, false
	case !st.authed:
		return redcon.AppendError(out, msgNoAuth), true
	}
	return nil, false
}

// passwordMatches compares in constant time (over digests, so that the
// length does not leak either). A user, when given, must be "default".
func (s *Server) passwordMatches(user, pass []byte) bool {
	if user != nil && string(user) != "default" {
		return false
	}
	got := sha256.Sum256(pass)
	want := sha256.Sum256([]byte(s.cfg.Password))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
