package appenv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Keys with an effect, named as in Pegasus (src/common/replica_envs.cpp).
const (
	// DenyClientRequest refuses client reads and/or writes on every replica
	// of the table: "timeout*<read|write|all>" leaves them unanswered until
	// they time out, "reconfig*<read|write|all>" answers ERR_INVALID_STATE
	// (clients refresh their routes).
	DenyClientRequest = "replica.deny_client_request"
	// WriteThrottling limits write requests per second:
	// "<units[K|M]>*delay*<ms>,<units[K|M]>*reject*<ms>", either part optional.
	WriteThrottling = "replica.write_throttling"
	// WriteThrottlingBySize is WriteThrottling counting request bytes.
	WriteThrottlingBySize = "replica.write_throttling_by_size"
	// DefaultTTL is the TTL in seconds given to a written value that
	// carries none; 0 means none.
	DefaultTTL = "default_ttl"
)

// keyHelp describes each supported key's values, in the order help and
// errors list them.
var keyHelp = []struct{ key, syntax, sample string }{
	{DenyClientRequest, "timeout*all | timeout*write | timeout*read | reconfig*all | reconfig*write | reconfig*read", "timeout*all"},
	{WriteThrottling, "<units[K|M]>*<delay|reject>*<milliseconds>[,...]", "10000*delay*100,20000*reject*100"},
	{WriteThrottlingBySize, "<bytes[K|M]>*<delay|reject>*<milliseconds>[,...]", "10M*delay*100,20M*reject*100"},
	{DefaultTTL, "seconds >= 0", "86400"},
}

// Supported lists the supported keys with their value syntax, one per line.
func Supported() string {
	var b strings.Builder
	for _, h := range keyHelp {
		fmt.Fprintf(&b, "%s: %s (e.g. %s)\n", h.key, h.syntax, h.sample)
	}
	return b.String()
}

// IsSupported reports whether key has a meaning here.
func IsSupported(key string) bool {
	return slices.ContainsFunc(keyHelp, func(h struct{ key, syntax, sample string }) bool { return h.key == key })
}

// Validate checks one key and value as update_app_env sets them.
func Validate(key, value string) error {
	var err error
	switch key {
	case DenyClientRequest:
		_, err = parseDeny(value)
	case WriteThrottling, WriteThrottlingBySize:
		_, err = ParseThrottle(value)
	case DefaultTTL:
		_, err = parseTTL(value)
	default:
		return fmt.Errorf("%w: %q; supported: %s", ErrUnknownKey, key, strings.Join(keys(), ", "))
	}
	if err != nil {
		return fmt.Errorf("%s=%q: %w", key, value, err)
	}
	return nil
}

// ValidateKnown validates the supported keys of envs and lets others pass
// (create_app keeps accepting keys it does not know).
func ValidateKnown(envs map[string]string) error {
	for k, v := range envs {
		if IsSupported(k) {
			if err := Validate(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func keys() []string {
	out := make([]string, len(keyHelp))
	for i, h := range keyHelp {
		out[i] = h.key
	}
	return out
}

// Effects is what a table's envs make its replicas do.
type Effects struct {
	// DenyRead and DenyWrite refuse client reads and writes; Reconfig
	// says they are answered ERR_INVALID_STATE rather than left to time
	// out.
	DenyRead, DenyWrite, Reconfig bool
	// WriteQPS counts write requests, WriteSize their bytes.
	WriteQPS, WriteSize Throttle
	// DefaultTTLSeconds is given to writes carrying no TTL; 0 means none.
	DefaultTTLSeconds int32
}

// Parse reads the effects of envs. A value that does not parse has no
// effect (the meta server refuses such values; one stored by an older
// version is ignored, as Pegasus does).
func Parse(envs map[string]string) Effects {
	var e Effects
	if v, ok := envs[DenyClientRequest]; ok {
		if d, err := parseDeny(v); err == nil {
			e.DenyRead, e.DenyWrite, e.Reconfig = d.read, d.write, d.reconfig
		}
	}
	if v, ok := envs[WriteThrottling]; ok {
		e.WriteQPS, _ = ParseThrottle(v)
	}
	if v, ok := envs[WriteThrottlingBySize]; ok {
		e.WriteSize, _ = ParseThrottle(v)
	}
	if v, ok := envs[DefaultTTL]; ok {
		e.DefaultTTLSeconds, _ = parseTTL(v)
	}
	return e
}

type deny struct{ read, write, reconfig bool }

func parseDeny(v string) (deny, error) {
	how, what, ok := strings.Cut(v, "*")
	if !ok || (how != "timeout" && how != "reconfig") || (what != "all" && what != "read" && what != "write") {
		return deny{}, fmt.Errorf("%w: want timeout*all, timeout*write, timeout*read, reconfig*all, reconfig*write or reconfig*read", ErrInvalidValue)
	}
	return deny{read: what != "write", write: what != "read", reconfig: how == "reconfig"}, nil
}

// maxTTL keeps expiry times inside storage's 32-bit seconds.
const maxTTL = 1<<31 - 1

func parseTTL(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxTTL {
		return 0, fmt.Errorf("%w: want seconds in [0, %d]", ErrInvalidValue, maxTTL)
	}
	return int32(n), nil
}
