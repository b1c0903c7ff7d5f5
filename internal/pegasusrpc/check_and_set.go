package pegasusrpc

// Structs of check_and_set (RPC_RRDB_RRDB_CHECK_AND_SET): write one sort
// key of a hash key if a condition on a (possibly different) sort key of
// the same hash key holds.

// CheckAndSetRequest is the conditional write.
type CheckAndSetRequest struct {
	HashKey      []byte       // 1: dsn.blob
	CheckSortKey []byte       // 2: dsn.blob
	CheckType    CASCheckType // 3: cas_check_type
	CheckOperand []byte       // 4: dsn.blob
	// SetDiffSortKey selects SetSortKey as the key to write; otherwise the
	// checked key itself is written.
	SetDiffSortKey     bool   // 5: bool
	SetSortKey         []byte // 6: dsn.blob
	SetValue           []byte // 7: dsn.blob
	SetExpireTsSeconds int32  // 8: i32
	ReturnCheckValue   bool   // 9: bool
}

func (*CheckAndSetRequest) wireType() thriftType { return typeStruct }

func (m *CheckAndSetRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendBlobField(b, 2, m.CheckSortKey)
	b = appendI32Field(b, 3, int32(m.CheckType))
	b = appendBlobField(b, 4, m.CheckOperand)
	b = appendBoolField(b, 5, m.SetDiffSortKey)
	b = appendBlobField(b, 6, m.SetSortKey)
	b = appendBlobField(b, 7, m.SetValue)
	b = appendI32Field(b, 8, m.SetExpireTsSeconds)
	b = appendBoolField(b, 9, m.ReturnCheckValue)
	return appendStop(b)
}

func (m *CheckAndSetRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeSpecial):
			m.CheckSortKey = d.binary()
		case field(3, typeI32):
			m.CheckType = CASCheckType(d.i32())
		case field(4, typeSpecial):
			m.CheckOperand = d.binary()
		case field(5, typeBool):
			m.SetDiffSortKey = d.bool()
		case field(6, typeSpecial):
			m.SetSortKey = d.binary()
		case field(7, typeSpecial):
			m.SetValue = d.binary()
		case field(8, typeI32):
			m.SetExpireTsSeconds = d.i32()
		case field(9, typeBool):
			m.ReturnCheckValue = d.bool()
		default:
			d.skipField()
		}
	}
}

// CheckAndSetResponse answers check_and_set. Error is StatusTryAgain when
// the check failed (nothing written) and StatusInvalidArgument when an
// integer comparison met a value or operand that is not an integer.
type CheckAndSetResponse struct {
	Error              StorageStatus // 1: i32
	CheckValueReturned bool          // 2: bool
	CheckValueExist    bool          // 3: bool, meaningful if CheckValueReturned
	CheckValue         []byte        // 4: dsn.blob, meaningful if both above are true
	AppID              int32         // 5: i32
	PartitionIndex     int32         // 6: i32
	Decree             int64         // 7: i64
	Server             string        // 8: string
}

func (*CheckAndSetResponse) wireType() thriftType { return typeStruct }

func (m *CheckAndSetResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendBoolField(b, 2, m.CheckValueReturned)
	b = appendBoolField(b, 3, m.CheckValueExist)
	b = appendBlobField(b, 4, m.CheckValue)
	b = appendI32Field(b, 5, m.AppID)
	b = appendI32Field(b, 6, m.PartitionIndex)
	b = appendI64Field(b, 7, m.Decree)
	b = appendStringField(b, 8, m.Server)
	return appendStop(b)
}

func (m *CheckAndSetResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeBool):
			m.CheckValueReturned = d.bool()
		case field(3, typeBool):
			m.CheckValueExist = d.bool()
		case field(4, typeSpecial):
			m.CheckValue = d.binary()
		case field(5, typeI32):
			m.AppID = d.i32()
		case field(6, typeI32):
			m.PartitionIndex = d.i32()
		case field(7, typeI64):
			m.Decree = d.i64()
		case field(8, typeString):
			m.Server = d.string()
		default:
			d.skipField()
		}
	}
}
