package redisproxy

import (
	"errors"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/pegasus-go/pegasus/client"
)

// Error replies. Where Redis has a wording for the same condition the proxy
// uses it verbatim: client libraries and tools match on these strings (the
// first word is the error code, and e.g. redis-py maps "wrong number of
// arguments" and "value is not an integer" to exception types).
const (
	msgSyntax        = "ERR syntax error"
	msgNotInteger    = "ERR value is not an integer or out of range"
	msgDecrOverflow  = "ERR decrement would overflow"
	msgDBOutOfRange  = "ERR DB index is out of range"
	msgNoProto       = "NOPROTO unsupported protocol version"
	msgEmptyKey      = "ERR empty keys are not supported: a Redis key is a Pegasus hash key, which must not be empty"
	msgKeyTooLong    = "ERR key is too long: a Redis key is a Pegasus hash key, at most 65534 bytes"
	msgExpireOptions = "ERR EXPIRE options NX, XX, GT and LT are not supported by this proxy"
)

// appendWrongArity appends Redis' reply to a command with the wrong number
// of arguments; name is the command's lower-case name.
func appendWrongArity(out []byte, name string) []byte {
	return redcon.AppendError(out, "ERR wrong number of arguments for '"+name+"' command")
}

// appendUnknownCommand appends Redis' reply to an unknown command: the name
// as the client spelled it and the start of its arguments, at most about
// 128 bytes of them, as Redis prints them.
func appendUnknownCommand(out []byte, args [][]byte) []byte {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(clip(args[0], 128))
	b.WriteString("', with args beginning with: ")
	budget := 128
	for _, a := range args[1:] {
		if budget <= 0 {
			break
		}
		s := clip(a, budget)
		b.WriteString("'")
		b.WriteString(s)
		b.WriteString("' ")
		budget -= len(s) + 3
	}
	return redcon.AppendError(out, sanitize(b.String()))
}

// appendUnknownSubcommand appends Redis' reply to an unknown subcommand of
// a container command such as CONFIG or COMMAND.
func appendUnknownSubcommand(out []byte, command string, sub []byte) []byte {
	return redcon.AppendError(out, sanitize("ERR unknown subcommand '"+clip(sub, 128)+"'. Try "+command+" HELP."))
}

// appendError appends the reply to a failed command. Errors without a Redis
// equivalent (timeouts, an unavailable cluster) keep the store's message
// after "ERR", so that an operator reading the client's log sees the cause.
func appendError(out []byte, err error) []byte {
	switch {
	case errors.Is(err, ErrNotInteger):
		return redcon.AppendError(out, msgNotInteger)
	case errors.Is(err, client.ErrUnknownOutcome):
		// Say it first: the client must not assume the write failed.
		return redcon.AppendError(out, sanitize("ERR write outcome unknown, it may have been applied: "+err.Error()))
	}
	return redcon.AppendError(out, sanitize("ERR "+err.Error()))
}

// sanitize makes msg fit a RESP simple error, which ends at the first CR or
// LF: Redis replaces them with spaces too.
func sanitize(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, msg)
}

// clip returns at most n bytes of b as a string.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
