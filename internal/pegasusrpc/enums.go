package pegasusrpc

import "strconv"

// The rrdb enums travel as plain i32 fields. Values outside the declared
// range are kept as they are (not rejected) so that the storage layer can
// answer them with StatusInvalidArgument, as the C++ server does.

// FilterType selects how a hash key or sort key filter pattern is matched.
type FilterType int32

const (
	FilterNone          FilterType = 0 // FT_NO_FILTER
	FilterMatchAnywhere FilterType = 1 // FT_MATCH_ANYWHERE
	FilterMatchPrefix   FilterType = 2 // FT_MATCH_PREFIX
	FilterMatchPostfix  FilterType = 3 // FT_MATCH_POSTFIX
)

var filterTypeNames = [...]string{
	"FT_NO_FILTER", "FT_MATCH_ANYWHERE", "FT_MATCH_PREFIX", "FT_MATCH_POSTFIX",
}

func (t FilterType) String() string { return enumName(filterTypeNames[:], int32(t), "FilterType") }

// CASCheckType is the condition of check_and_set and check_and_mutate.
type CASCheckType int32

const (
	CheckNoCheck CASCheckType = 0

	// Existence checks.
	CheckValueNotExist        CASCheckType = 1
	CheckValueNotExistOrEmpty CASCheckType = 2
	CheckValueExist           CASCheckType = 3
	CheckValueNotEmpty        CASCheckType = 4

	// Pattern checks: the operand must occur in the value.
	CheckValueMatchAnywhere CASCheckType = 5
	CheckValueMatchPrefix   CASCheckType = 6
	CheckValueMatchPostfix  CASCheckType = 7

	// Byte-wise comparisons of value against operand.
	CheckValueBytesLess           CASCheckType = 8
	CheckValueBytesLessOrEqual    CASCheckType = 9
	CheckValueBytesEqual          CASCheckType = 10
	CheckValueBytesGreaterOrEqual CASCheckType = 11
	CheckValueBytesGreater        CASCheckType = 12

	// Integer comparisons: value and operand are parsed as int64.
	CheckValueIntLess           CASCheckType = 13
	CheckValueIntLessOrEqual    CASCheckType = 14
	CheckValueIntEqual          CASCheckType = 15
	CheckValueIntGreaterOrEqual CASCheckType = 16
	CheckValueIntGreater        CASCheckType = 17
)

var casCheckTypeNames = [...]string{
	"CT_NO_CHECK",
	"CT_VALUE_NOT_EXIST", "CT_VALUE_NOT_EXIST_OR_EMPTY", "CT_VALUE_EXIST", "CT_VALUE_NOT_EMPTY",
	"CT_VALUE_MATCH_ANYWHERE", "CT_VALUE_MATCH_PREFIX", "CT_VALUE_MATCH_POSTFIX",
	"CT_VALUE_BYTES_LESS", "CT_VALUE_BYTES_LESS_OR_EQUAL", "CT_VALUE_BYTES_EQUAL",
	"CT_VALUE_BYTES_GREATER_OR_EQUAL", "CT_VALUE_BYTES_GREATER",
	"CT_VALUE_INT_LESS", "CT_VALUE_INT_LESS_OR_EQUAL", "CT_VALUE_INT_EQUAL",
	"CT_VALUE_INT_GREATER_OR_EQUAL", "CT_VALUE_INT_GREATER",
}

func (t CASCheckType) String() string {
	return enumName(casCheckTypeNames[:], int32(t), "CASCheckType")
}

// UpdateType tells why an update_request exists. Clients send only plain
// puts (the field unset or UT_PUT); the other values mark puts the server
// derived from atomic writes.
type UpdateType int32

const (
	UpdatePut                  UpdateType = 0
	UpdateIncr                 UpdateType = 1
	UpdateCheckAndSet          UpdateType = 2
	UpdateCheckAndMutatePut    UpdateType = 3
	UpdateCheckAndMutateRemove UpdateType = 4
)

var updateTypeNames = [...]string{
	"UT_PUT", "UT_INCR", "UT_CHECK_AND_SET", "UT_CHECK_AND_MUTATE_PUT", "UT_CHECK_AND_MUTATE_REMOVE",
}

func (t UpdateType) String() string { return enumName(updateTypeNames[:], int32(t), "UpdateType") }

// MutateOperation is the kind of one mutate in check_and_mutate.
type MutateOperation int32

const (
	MutatePut    MutateOperation = 0
	MutateDelete MutateOperation = 1
)

var mutateOperationNames = [...]string{"MO_PUT", "MO_DELETE"}

func (o MutateOperation) String() string {
	return enumName(mutateOperationNames[:], int32(o), "MutateOperation")
}

func enumName(names []string, v int32, typ string) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}
