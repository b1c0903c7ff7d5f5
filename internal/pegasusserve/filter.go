package pegasusserve

import (
	"bytes"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// keyFilter is a hash key or sort key filter of multi_get and scanners.
// Our replica has no filters: the translator applies them to what it
// reads, which costs reading the filtered-out records but gives the same
// answers.
type keyFilter struct {
	typ     pegasusrpc.FilterType
	pattern []byte
}

// valid reports whether the filter type is one Pegasus defines; requests
// with another are refused with InvalidArgument, as the C++ server does.
func (f keyFilter) valid() bool {
	return f.typ >= pegasusrpc.FilterNone && f.typ <= pegasusrpc.FilterMatchPostfix
}

// match reports whether key passes. An empty pattern matches everything,
// whatever the type.
func (f keyFilter) match(key []byte) bool {
	if len(f.pattern) == 0 {
		return true
	}
	switch f.typ {
	case pegasusrpc.FilterMatchAnywhere:
		return bytes.Contains(key, f.pattern)
	case pegasusrpc.FilterMatchPrefix:
		return bytes.HasPrefix(key, f.pattern)
	case pegasusrpc.FilterMatchPostfix:
		return bytes.HasSuffix(key, f.pattern)
	}
	return true
}

// prefixEnd returns the smallest byte string greater than every string
// that starts with prefix; ok is false when there is none (prefix is empty
// or all 0xFF).
func prefixEnd(prefix []byte) (end []byte, ok bool) {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end = append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end, true
		}
	}
	return nil, false
}
