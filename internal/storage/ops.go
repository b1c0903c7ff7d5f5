package storage

import "fmt"

// WriteOp is one write of a replicated mutation: Put, Remove, MultiPut,
// MultiRemove, Incr or CheckAndSet, passed by value (pointers to them are
// refused with ErrUnknownOp). The set is closed: EncodeOps and Apply know
// every member.
type WriteOp interface {
	// Kind identifies the op in the wire encoding.
	Kind() OpKind
	isWriteOp()
}

// OpKind numbers the write ops in the encoding of EncodeOps. The values are
// part of the mutation log format and never change meaning.
type OpKind uint8

// The write op kinds.
const (
	OpPut         OpKind = 1
	OpRemove      OpKind = 2
	OpMultiPut    OpKind = 3
	OpMultiRemove OpKind = 4
	OpIncr        OpKind = 5
	OpCheckAndSet OpKind = 6
)

func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpRemove:
		return "remove"
	case OpMultiPut:
		return "multi_put"
	case OpMultiRemove:
		return "multi_remove"
	case OpIncr:
		return "incr"
	case OpCheckAndSet:
		return "check_and_set"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Put sets one record. TTLSeconds 0 means the record never expires; a
// positive TTL counts from the mutation's time.
type Put struct {
	HashKey, SortKey, Value []byte
	TTLSeconds              int32
}

// Remove deletes one record; removing an absent record is not an error.
type Remove struct {
	HashKey, SortKey []byte
}

// KV is one sort key and its value within a hash key.
type KV struct {
	SortKey, Value []byte
}

// MultiPut sets several records of one hash key with one TTL (0 = none).
type MultiPut struct {
	HashKey    []byte
	KVs        []KV
	TTLSeconds int32
}

// MultiRemove deletes several records of one hash key.
type MultiRemove struct {
	HashKey  []byte
	SortKeys [][]byte
}

// Incr adds Delta to the integer stored as decimal text under the key. An
// absent, expired or empty value counts as 0. The result is stored as
// decimal text.
//
// TTLSeconds follows Pegasus' incr: 0 keeps the record's current expiry (none
// for a new record), a positive value resets it to TTLSeconds from the
// mutation's time, a negative value removes it.
type Incr struct {
	HashKey, SortKey []byte
	Delta            int64
	TTLSeconds       int32
}

// CheckAndSet reads CheckSortKey, tests its value with CheckType against
// CheckOperand and, if the test passes, sets SetSortKey to SetValue with
// SetTTLSeconds (0 = none). Check and set keys may be equal. With
// ReturnCheckValue the result carries the value that was checked.
type CheckAndSet struct {
	HashKey          []byte
	CheckSortKey     []byte
	CheckType        CheckType
	CheckOperand     []byte
	SetSortKey       []byte
	SetValue         []byte
	SetTTLSeconds    int32
	ReturnCheckValue bool
}

// Kind implements WriteOp.
func (Put) Kind() OpKind { return OpPut }

// Kind implements WriteOp.
func (Remove) Kind() OpKind { return OpRemove }

// Kind implements WriteOp.
func (MultiPut) Kind() OpKind { return OpMultiPut }

// Kind implements WriteOp.
func (MultiRemove) Kind() OpKind { return OpMultiRemove }

// Kind implements WriteOp.
func (Incr) Kind() OpKind { return OpIncr }

// Kind implements WriteOp.
func (CheckAndSet) Kind() OpKind { return OpCheckAndSet }

func (Put) isWriteOp()         {}
func (Remove) isWriteOp()      {}
func (MultiPut) isWriteOp()    {}
func (MultiRemove) isWriteOp() {}
func (Incr) isWriteOp()        {}
func (CheckAndSet) isWriteOp() {}

// OpResult is the outcome of one op of an Apply. Every replica computes the
// same results for the same ops.
type OpResult struct {
	// Kind is the op's kind (0 for a nil op).
	Kind OpKind

	// Err is nil, or why the op did nothing: ErrIncrNotInteger,
	// ErrIncrOverflow, ErrCheckNotInteger, or a validation error for an op
	// that should never have been logged (ErrHashKeyTooLarge, ...).
	Err error

	// NewValue is an Incr's value after the increment. On ErrIncrOverflow it
	// is the unchanged current value, as Pegasus reports it.
	NewValue int64

	// CheckPassed reports that a CheckAndSet's check held and the set was
	// written.
	CheckPassed bool
	// CheckValueReturned is a CheckAndSet's ReturnCheckValue. Then
	// CheckValueExist and CheckValue report the checked record; CheckValue
	// is nil when it did not exist.
	CheckValueReturned bool
	CheckValueExist    bool
	CheckValue         []byte
}

// SizeLimits bounds sort keys and values of write ops; zero means no limit.
// Hash keys are always bounded by MaxHashKeySize.
type SizeLimits struct {
	MaxSortKeySize int
	MaxValueSize   int
}

// ValidateOp checks op against lim and against the rules that hold whatever
// the configuration: hash key size, TTL sign, non-empty multi-ops, known check
// types, and op types this package defines. A primary calls it (through
// Store.Validate) before logging a mutation, so that bad input is refused
// rather than replicated.
func ValidateOp(op WriteOp, lim SizeLimits) error {
	switch op := op.(type) {
	case Put:
		return firstError(checkHashKey(op.HashKey), lim.checkSortKey(op.SortKey), lim.checkValue(op.Value), checkTTL(op.TTLSeconds))
	case Remove:
		return firstError(checkHashKey(op.HashKey), lim.checkSortKey(op.SortKey))
	case MultiPut:
		if len(op.KVs) == 0 {
			return fmt.Errorf("%w: multi_put", ErrEmptyMultiOp)
		}
		if err := firstError(checkHashKey(op.HashKey), checkTTL(op.TTLSeconds)); err != nil {
			return err
		}
		for _, kv := range op.KVs {
			if err := firstError(lim.checkSortKey(kv.SortKey), lim.checkValue(kv.Value)); err != nil {
				return err
			}
		}
		return nil
	case MultiRemove:
		if len(op.SortKeys) == 0 {
			return fmt.Errorf("%w: multi_remove", ErrEmptyMultiOp)
		}
		if err := checkHashKey(op.HashKey); err != nil {
			return err
		}
		for _, sk := range op.SortKeys {
			if err := lim.checkSortKey(sk); err != nil {
				return err
			}
		}
		return nil
	case Incr:
		return firstError(checkHashKey(op.HashKey), lim.checkSortKey(op.SortKey))
	case CheckAndSet:
		if !op.CheckType.valid() {
			return fmt.Errorf("%w: %d", ErrInvalidCheckType, uint8(op.CheckType))
		}
		return firstError(checkHashKey(op.HashKey), lim.checkSortKey(op.CheckSortKey),
			lim.checkSortKey(op.SetSortKey), lim.checkValue(op.CheckOperand),
			lim.checkValue(op.SetValue), checkTTL(op.SetTTLSeconds))
	}
	return fmt.Errorf("%w: %T", ErrUnknownOp, op)
}

func (lim SizeLimits) checkSortKey(sortKey []byte) error {
	if lim.MaxSortKeySize > 0 && len(sortKey) > lim.MaxSortKeySize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrSortKeyTooLarge, len(sortKey), lim.MaxSortKeySize)
	}
	return nil
}

func (lim SizeLimits) checkValue(value []byte) error {
	if lim.MaxValueSize > 0 && len(value) > lim.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(value), lim.MaxValueSize)
	}
	return nil
}

func checkTTL(ttlSeconds int32) error {
	if ttlSeconds < 0 {
		return fmt.Errorf("%w: %d seconds", ErrInvalidTTL, ttlSeconds)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
