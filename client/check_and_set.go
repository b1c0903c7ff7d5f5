package client

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// CheckType is the condition CheckAndSet evaluates on the value of the
// checked record. The zero CheckType is not a valid condition, so a Check
// whose Type was forgotten is refused instead of writing unconditionally.
type CheckType int

// The conditions, as Pegasus names them. "Match" and "Bytes" conditions
// compare the value with the operand bytewise; "Int" conditions compare
// both as decimal int64. Every comparison fails on a missing record.
const (
	_                             CheckType = iota
	CheckNoCheck                            // always passes
	CheckValueNotExist                      // record does not exist
	CheckValueNotExistOrEmpty               // record does not exist or its value is empty
	CheckValueExist                         // record exists
	CheckValueNotEmpty                      // record exists with a non-empty value
	CheckValueMatchAnywhere                 // value contains the operand
	CheckValueMatchPrefix                   // value starts with the operand
	CheckValueMatchPostfix                  // value ends with the operand
	CheckValueBytesLess                     // value < operand
	CheckValueBytesLessOrEqual              // value <= operand
	CheckValueBytesEqual                    // value == operand
	CheckValueBytesGreaterOrEqual           // value >= operand
	CheckValueBytesGreater                  // value > operand
	CheckValueIntLess                       // int(value) < int(operand)
	CheckValueIntLessOrEqual                // int(value) <= int(operand)
	CheckValueIntEqual                      // int(value) == int(operand)
	CheckValueIntGreaterOrEqual             // int(value) >= int(operand)
	CheckValueIntGreater                    // int(value) > int(operand)
	checkTypeEnd
)

// checkTypes gives each condition its wire code and the kind of operand it
// takes. The wire codes are listed, not computed, so that no condition can
// silently turn into another.
var checkTypes = [checkTypeEnd]struct {
	wire    pb.CheckType
	operand operandKind
}{
	CheckNoCheck:                  {pb.CheckType_CT_NO_CHECK, noOperand},
	CheckValueNotExist:            {pb.CheckType_CT_VALUE_NOT_EXIST, noOperand},
	CheckValueNotExistOrEmpty:     {pb.CheckType_CT_VALUE_NOT_EXIST_OR_EMPTY, noOperand},
	CheckValueExist:               {pb.CheckType_CT_VALUE_EXIST, noOperand},
	CheckValueNotEmpty:            {pb.CheckType_CT_VALUE_NOT_EMPTY, noOperand},
	CheckValueMatchAnywhere:       {pb.CheckType_CT_VALUE_MATCH_ANYWHERE, bytesOperand},
	CheckValueMatchPrefix:         {pb.CheckType_CT_VALUE_MATCH_PREFIX, bytesOperand},
	CheckValueMatchPostfix:        {pb.CheckType_CT_VALUE_MATCH_POSTFIX, bytesOperand},
	CheckValueBytesLess:           {pb.CheckType_CT_VALUE_BYTES_LESS, bytesOperand},
	CheckValueBytesLessOrEqual:    {pb.CheckType_CT_VALUE_BYTES_LESS_OR_EQUAL, bytesOperand},
	CheckValueBytesEqual:          {pb.CheckType_CT_VALUE_BYTES_EQUAL, bytesOperand},
	CheckValueBytesGreaterOrEqual: {pb.CheckType_CT_VALUE_BYTES_GREATER_OR_EQUAL, bytesOperand},
	CheckValueBytesGreater:        {pb.CheckType_CT_VALUE_BYTES_GREATER, bytesOperand},
	CheckValueIntLess:             {pb.CheckType_CT_VALUE_INT_LESS, intOperand},
	CheckValueIntLessOrEqual:      {pb.CheckType_CT_VALUE_INT_LESS_OR_EQUAL, intOperand},
	CheckValueIntEqual:            {pb.CheckType_CT_VALUE_INT_EQUAL, intOperand},
	CheckValueIntGreaterOrEqual:   {pb.CheckType_CT_VALUE_INT_GREATER_OR_EQUAL, intOperand},
	CheckValueIntGreater:          {pb.CheckType_CT_VALUE_INT_GREATER, intOperand},
}

type operandKind uint8

const (
	noOperand operandKind = iota
	bytesOperand
	intOperand
)

func (ct CheckType) valid() bool { return ct > 0 && ct < checkTypeEnd }

// String returns the Pegasus name of the condition, e.g. CT_VALUE_INT_LESS.
func (ct CheckType) String() string {
	if !ct.valid() {
		return fmt.Sprintf("CheckType(%d)", int(ct))
	}
	return checkTypes[ct].wire.String()
}

// Check is the condition of a CheckAndSet: Type evaluated on the value of
// the record at SortKey (under the operation's hash key), against Operand
// where the type takes one.
type Check struct {
	SortKey []byte
	Type    CheckType
	Operand []byte
}

func (c Check) validate() error {
	if !c.Type.valid() {
		return fmt.Errorf("%w: invalid check type %v", ErrInvalidArgument, c.Type)
	}
	switch checkTypes[c.Type].operand {
	case noOperand:
		if len(c.Operand) != 0 {
			return fmt.Errorf("%w: check type %v takes no operand", ErrInvalidArgument, c.Type)
		}
	case intOperand:
		if _, err := strconv.ParseInt(string(c.Operand), 10, 64); err != nil {
			return fmt.Errorf("%w: check type %v needs a decimal int64 operand, got %q", ErrInvalidArgument, c.Type, c.Operand)
		}
	}
	return nil
}

// CheckAndSetOptions adjust CheckAndSet. The zero value (or nil) writes a
// record that never expires and does not return the checked value.
type CheckAndSetOptions struct {
	// TTL of the written record; 0 = never expires.
	TTL time.Duration
	// ReturnCheckValue asks for the checked record's value in the result.
	ReturnCheckValue bool
}

// CheckAndSetResult is the outcome of a CheckAndSet.
type CheckAndSetResult struct {
	// Applied is true when the check passed and the value was written.
	Applied bool
	// With ReturnCheckValue: whether the checked record existed, and its
	// value at the time of the check.
	CheckValueReturned bool
	CheckValueExists   bool
	CheckValue         []byte
}

// CheckAndSet atomically evaluates check on one record of hashKey and, if
// it passes, writes value at setSortKey (which may be the checked sort key
// or another one under the same hash key). A failed check is not an error:
// the result says Applied == false.
func (t *Table) CheckAndSet(ctx context.Context, hashKey []byte, check Check, setSortKey, value []byte, opts *CheckAndSetOptions) (CheckAndSetResult, error) {
	var o CheckAndSetOptions
	if opts != nil {
		o = *opts
	}
	err := check.validate()
	if err == nil {
		err = checkHashKey(hashKey, false)
	}
	var secs int32
	if err == nil {
		secs, err = ttlSeconds(o.TTL)
	}
	if err != nil {
		return CheckAndSetResult{}, t.invalid(opCheckAndSet, err)
	}
	diff := !bytes.Equal(check.SortKey, setSortKey)
	req := &pb.CheckAndSetRequest{
		HashKey:          hashKey,
		CheckSortKey:     check.SortKey,
		CheckType:        checkTypes[check.Type].wire,
		CheckOperand:     check.Operand,
		SetDiffSortKey:   diff,
		SetValue:         value,
		SetExpireSeconds: secs,
		ReturnCheckValue: o.ReturnCheckValue,
	}
	if diff {
		req.SetSortKey = setSortKey
	}
	resp, err := t.invoke(ctx, opCheckAndSet, PartitionHash(hashKey, nil), &pb.ClientRequest{
		Op: &pb.ClientRequest_CheckAndSet{CheckAndSet: req},
	})
	if err != nil {
		return CheckAndSetResult{}, err
	}
	r := resp.GetCheckAndSet()
	return CheckAndSetResult{
		Applied:            r.GetSetSucceed(),
		CheckValueReturned: r.GetCheckValueReturned(),
		CheckValueExists:   r.GetCheckValueExist(),
		CheckValue:         r.GetCheckValue(),
	}, nil
}
