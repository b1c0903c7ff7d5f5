package storage

import (
	"bytes"
	"fmt"
	"math"
)

// CheckType is the test a CheckAndSet applies to the checked value. The
// values are Pegasus' cas_check_type numbers and must not change.
type CheckType uint8

// The check types, named after Pegasus' CT_* constants.
const (
	CheckNone                 CheckType = 0  // CT_NO_CHECK: always passes
	CheckValueNotExist        CheckType = 1  // CT_VALUE_NOT_EXIST
	CheckValueNotExistOrEmpty CheckType = 2  // CT_VALUE_NOT_EXIST_OR_EMPTY
	CheckValueExist           CheckType = 3  // CT_VALUE_EXIST
	CheckValueNotEmpty        CheckType = 4  // CT_VALUE_NOT_EMPTY: exists and not empty
	CheckMatchAnywhere        CheckType = 5  // CT_VALUE_MATCH_ANYWHERE: operand occurs in value
	CheckMatchPrefix          CheckType = 6  // CT_VALUE_MATCH_PREFIX
	CheckMatchPostfix         CheckType = 7  // CT_VALUE_MATCH_POSTFIX
	CheckBytesLess            CheckType = 8  // CT_VALUE_BYTES_LESS: value < operand, bytewise
	CheckBytesLessOrEqual     CheckType = 9  // CT_VALUE_BYTES_LESS_OR_EQUAL
	CheckBytesEqual           CheckType = 10 // CT_VALUE_BYTES_EQUAL
	CheckBytesGreaterOrEqual  CheckType = 11 // CT_VALUE_BYTES_GREATER_OR_EQUAL
	CheckBytesGreater         CheckType = 12 // CT_VALUE_BYTES_GREATER
	CheckIntLess              CheckType = 13 // CT_VALUE_INT_LESS: value < operand, as int64
	CheckIntLessOrEqual       CheckType = 14 // CT_VALUE_INT_LESS_OR_EQUAL
	CheckIntEqual             CheckType = 15 // CT_VALUE_INT_EQUAL
	CheckIntGreaterOrEqual    CheckType = 16 // CT_VALUE_INT_GREATER_OR_EQUAL
	CheckIntGreater           CheckType = 17 // CT_VALUE_INT_GREATER
)

var checkTypeNames = [...]string{
	"CT_NO_CHECK",
	"CT_VALUE_NOT_EXIST",
	"CT_VALUE_NOT_EXIST_OR_EMPTY",
	"CT_VALUE_EXIST",
	"CT_VALUE_NOT_EMPTY",
	"CT_VALUE_MATCH_ANYWHERE",
	"CT_VALUE_MATCH_PREFIX",
	"CT_VALUE_MATCH_POSTFIX",
	"CT_VALUE_BYTES_LESS",
	"CT_VALUE_BYTES_LESS_OR_EQUAL",
	"CT_VALUE_BYTES_EQUAL",
	"CT_VALUE_BYTES_GREATER_OR_EQUAL",
	"CT_VALUE_BYTES_GREATER",
	"CT_VALUE_INT_LESS",
	"CT_VALUE_INT_LESS_OR_EQUAL",
	"CT_VALUE_INT_EQUAL",
	"CT_VALUE_INT_GREATER_OR_EQUAL",
	"CT_VALUE_INT_GREATER",
}

// String returns Pegasus' name of the check type.
func (t CheckType) String() string {
	if t.valid() {
		return checkTypeNames[t]
	}
	return fmt.Sprintf("CheckType(%d)", uint8(t))
}

func (t CheckType) valid() bool { return int(t) < len(checkTypeNames) }

// passes evaluates the check on the checked record: exist says whether it is
// live, value is its user value. A check that compares integers fails with
// ErrCheckNotInteger when the value or the operand is not one; an absent
// record fails every comparison and match without error, as in Pegasus.
func (t CheckType) passes(operand []byte, exist bool, value []byte) (bool, error) {
	switch t {
	case CheckNone:
		return true, nil
	case CheckValueNotExist:
		return !exist, nil
	case CheckValueNotExistOrEmpty:
		return !exist || len(value) == 0, nil
	case CheckValueExist:
		return exist, nil
	case CheckValueNotEmpty:
		return exist && len(value) != 0, nil
	}
	if !exist {
		return false, nil
	}
	switch t {
	case CheckMatchAnywhere:
		return bytes.Contains(value, operand), nil
	case CheckMatchPrefix:
		return bytes.HasPrefix(value, operand), nil
	case CheckMatchPostfix:
		return bytes.HasSuffix(value, operand), nil
	case CheckBytesLess, CheckBytesLessOrEqual, CheckBytesEqual, CheckBytesGreaterOrEqual, CheckBytesGreater:
		return orderingHolds(t-CheckBytesLess, bytes.Compare(value, operand)), nil
	case CheckIntLess, CheckIntLessOrEqual, CheckIntEqual, CheckIntGreaterOrEqual, CheckIntGreater:
		v, ok := parseCInt64(value)
		if !ok {
			return false, fmt.Errorf("%w: check value %q", ErrCheckNotInteger, truncateForError(value))
		}
		o, ok := parseCInt64(operand)
		if !ok {
			return false, fmt.Errorf("%w: check operand %q", ErrCheckNotInteger, truncateForError(operand))
		}
		c := 0
		if v < o {
			c = -1
		} else if v > o {
			c = 1
		}
		return orderingHolds(t-CheckIntLess, c), nil
	}
	return false, fmt.Errorf("%w: %d", ErrInvalidCheckType, uint8(t))
}

// orderingHolds applies the relation at offset rel of the sequence
// less, less-or-equal, equal, greater-or-equal, greater (the order both the
// bytes and the int check types follow) to a comparison result c.
func orderingHolds(rel CheckType, c int) bool {
	switch rel {
	case 0:
		return c < 0
	case 1:
		return c <= 0
	case 2:
		return c == 0
	case 3:
		return c >= 0
	default:
		return c > 0
	}
}

// parseCInt64 parses b the way Pegasus does (C's strtoll with base 0 that must
// consume the whole buffer): optional leading C whitespace, an optional sign,
// then a decimal number, a "0x"/"0X" hexadecimal one or a "0"-prefixed octal
// one. Anything else, including the empty buffer, trailing bytes and values
// outside int64, is rejected. Matching Pegasus exactly matters: whether a
// stored value counts as an integer decides incr and check results, which
// must not change when data moves between the two implementations.
func parseCInt64(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	if i < len(b) && b[i] == '0' {
		if i+2 < len(b) && b[i+1]|0x20 == 'x' && digitValue(b[i+2]) < 16 {
			base = 16
			i += 2
		} else {
			base = 8
		}
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2^63 is representable
	}
	start := i
	var mag uint64
	for ; i < len(b); i++ {
		d := digitValue(b[i])
		if d >= base {
			break
		}
		if mag > (limit-d)/base {
			return 0, false
		}
		mag = mag*base + d
	}
	if i == start || i != len(b) {
		return 0, false
	}
	if neg {
		return int64(-mag), true
	}
	return int64(mag), true
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// digitValue returns the value of an ASCII digit in bases up to 16, or 16 for
// anything else.
func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10
	}
	return 16
}

// truncateForError keeps error messages about user values short.
func truncateForError(b []byte) []byte {
	const maxLen = 32
	if len(b) > maxLen {
		return b[:maxLen]
	}
	return b
}
