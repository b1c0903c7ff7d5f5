package bench

import (
	"encoding/binary"
	"math"
	"strconv"
)

// ValueID names one write. The workload never writes the same bytes twice,
// so the ValueID decoded from a read says exactly which write the read
// observed; this is what lets the checkers work on integers rather than on
// byte strings.
//
// The high 24 bits hold the writer (worker index + 1, so that no real write
// is 0) and the low 40 bits the writer's sequence number.
type ValueID uint64

const (
	// Absent is the ValueID of a missing key: the initial state of every
	// key, the state after a Del, and what a Get that found nothing read.
	Absent ValueID = 0
	// CorruptValue is what a Get read when the bytes returned are not a
	// value this workload wrote (wrong length, bad header or filler). No
	// write has this ID, so the checkers flag such a read.
	CorruptValue ValueID = math.MaxUint64

	valueSeqBits = 40
	valueSeqMask = 1<<valueSeqBits - 1
	// valueHeaderSize is the encoded ValueID at the front of every value,
	// and therefore the smallest value size a workload accepts.
	valueHeaderSize = 8
	// maxWriters bounds the worker index so that the writer fits its 24 bits.
	maxWriters = 1<<(64-valueSeqBits) - 2
)

// makeValueID returns the ID of the seq-th write of writer (0-based).
func makeValueID(writer int, seq uint64) ValueID {
	return ValueID(uint64(writer+1)<<valueSeqBits | seq&valueSeqMask)
}

// String renders the ID as "w<writer>.<seq>", "absent" or "corrupt".
func (id ValueID) String() string {
	switch id {
	case Absent:
		return "absent"
	case CorruptValue:
		return "corrupt"
	}
	b := []byte{'w'}
	b = strconv.AppendUint(b, uint64(id)>>valueSeqBits-1, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(id)&valueSeqMask, 10)
	return string(b)
}

// fillerWord is the 8-byte pattern repeated after the header. It depends on
// the ID, so a value whose header survived but whose body belongs to another
// write (a torn or mixed-up value) does not decode.
func fillerWord(id ValueID) uint64 {
	return uint64(id) * 0x9e3779b97f4a7c15 // Fibonacci hashing constant
}

// encodeValue fills buf (of the workload's value size) with the value of id.
func encodeValue(buf []byte, id ValueID) {
	binary.BigEndian.PutUint64(buf, uint64(id))
	body := buf[valueHeaderSize:]
	if len(body) == 0 {
		return
	}
	var word [8]byte
	binary.BigEndian.PutUint64(word[:], fillerWord(id))
	n := copy(body, word[:])
	// Doubling copies keep encoding cheap for kilobyte values.
	for n < len(body) {
		n += copy(body[n:], body[:n])
	}
}

// decodeValue returns the ID of value, or CorruptValue when value is not
// exactly what encodeValue produces for a value of size bytes.
func decodeValue(value []byte, size int) ValueID {
	if len(value) != size || size < valueHeaderSize {
		return CorruptValue
	}
	id := ValueID(binary.BigEndian.Uint64(value))
	if id == Absent || id == CorruptValue {
		return CorruptValue
	}
	var word [8]byte
	binary.BigEndian.PutUint64(word[:], fillerWord(id))
	body := value[valueHeaderSize:]
	for i := range body {
		if body[i] != word[i%8] {
			return CorruptValue
		}
	}
	return id
}
