package sim

import (
	"encoding/binary"
	"errors"
	"iter"
	"slices"
	"strconv"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The data model of the simulation: string keys and values, and the three
// writes its workloads need. Storage itself (Pebble, the key codec, TTLs) is
// not modelled: a replica's store is a map, made durable by copying it.

// opKind is a client operation.
type opKind uint8

const (
	opGet opKind = iota + 1
	opPut
	opIncr
	// opCAS is check_and_set: if the value (absent counts as "0") equals
	// expect, set it to set.
	opCAS
)

func (k opKind) String() string {
	switch k {
	case opGet:
		return "get"
	case opPut:
		return "put"
	case opIncr:
		return "incr"
	case opCAS:
		return "cas"
	}
	return "op?"
}

// idempotent reports whether applying the write twice equals applying it
// once (the server's writeKind.idempotent).
func (k opKind) idempotent() bool { return k != opIncr && k != opCAS }

// mutation is one write as it travels in a log entry.
type mutation struct {
	kind   opKind
	key    string
	value  string // put: the value; cas: the value to set
	expect string // cas: the value to find
	delta  int64  // incr
}

func encodeMutation(m mutation) []byte {
	b := []byte{byte(m.kind)}
	for _, s := range []string{m.key, m.value, m.expect} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendVarint(b, m.delta)
}

var errBadMutation = errors.New("sim: malformed mutation")

func decodeMutation(b []byte) (mutation, error) {
	if len(b) == 0 {
		return mutation{}, errBadMutation
	}
	m := mutation{kind: opKind(b[0])}
	b = b[1:]
	for _, s := range []*string{&m.key, &m.value, &m.expect} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return mutation{}, errBadMutation
		}
		*s = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	d, k := binary.Varint(b)
	if k <= 0 {
		return mutation{}, errBadMutation
	}
	m.delta = d
	return m, nil
}

// opResult is the outcome of applying one write, which every replica
// computes alike (the server's writeResult).
type opResult struct {
	decree pacifica.Decree
	// notInteger: an incr or check_and_set found a value that is not an
	// integer; nothing was written.
	notInteger bool
	newValue   int64
	casOK      bool
	casCur     string
}

func applyMutation(kv kvState, m mutation) opResult {
	switch m.kind {
	case opPut:
		kv[m.key] = m.value
	case opIncr:
		cur, err := intValue(kv, m.key)
		if err != nil {
			return opResult{notInteger: true}
		}
		kv[m.key] = strconv.FormatInt(cur+m.delta, 10)
		return opResult{newValue: cur + m.delta}
	case opCAS:
		cur := kv[m.key]
		if cur == "" {
			cur = "0"
		}
		if cur != m.expect {
			return opResult{casCur: cur}
		}
		kv[m.key] = m.value
		return opResult{casOK: true, casCur: cur}
	}
	return opResult{}
}

func intValue(kv kvState, key string) (int64, error) {
	v, ok := kv[key]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// answer is a replica server's response to a client request.
type answer struct {
	code    pb.ErrorCode
	primary string // ERR_INVALID_STATE: where the primary is
	ballot  int64
	// reads
	found bool
	value string
	// writes
	decree   pacifica.Decree
	newValue int64
	casOK    bool
	casCur   string
	// hasResult: an incr or check_and_set answer carries its result.
	hasResult bool
}

// errorAnswer maps err to its wire code with the server's own mapping.
func errorAnswer(err error) answer {
	e := replica.WireError(err)
	return answer{code: e.GetCode(), primary: e.GetPrimary(), ballot: e.GetBallot()}
}

func resultAnswer(kind opKind, r opResult) answer {
	if r.notInteger {
		return answer{code: pb.ErrorCode_ERR_INVALID_PARAMETERS}
	}
	a := answer{code: pb.ErrorCode_ERR_OK, decree: r.decree}
	switch kind {
	case opIncr:
		a.newValue, a.hasResult = r.newValue, true
	case opCAS:
		a.casOK, a.casCur, a.hasResult = r.casOK, r.casCur, true
	}
	return a
}

// sortedWaiters yields a waiter map in decree order, so that failing
// writes happens in the same order on every run.
func sortedWaiters(m map[pacifica.Decree][]*pendingWrite) iter.Seq2[pacifica.Decree, []*pendingWrite] {
	keys := make([]pacifica.Decree, 0, len(m))
	for d := range m {
		keys = append(keys, d)
	}
	slices.Sort(keys)
	return func(yield func(pacifica.Decree, []*pendingWrite) bool) {
		for _, d := range keys {
			ws, ok := m[d]
			if !ok {
				continue
			}
			if !yield(d, ws) {
				return
			}
		}
	}
}
