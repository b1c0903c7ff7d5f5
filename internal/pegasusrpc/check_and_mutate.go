package pegasusrpc

// Structs of check_and_mutate (RPC_RRDB_RRDB_CHECK_AND_MUTATE), sent by the
// Java client: like check_and_set, but applies a list of puts and deletes
// under the hash key when the check passes.

// Mutate is one operation of a check_and_mutate.
type Mutate struct {
	Operation          MutateOperation // 1: mutate_operation
	SortKey            []byte          // 2: dsn.blob
	Value              []byte          // 3: dsn.blob, empty for MutateDelete
	SetExpireTsSeconds int32           // 4: i32, 0 for MutateDelete
}

func (*Mutate) wireType() thriftType { return typeStruct }

func (m *Mutate) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Operation))
	b = appendBlobField(b, 2, m.SortKey)
	b = appendBlobField(b, 3, m.Value)
	b = appendI32Field(b, 4, m.SetExpireTsSeconds)
	return appendStop(b)
}

func (m *Mutate) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Operation = MutateOperation(d.i32())
		case field(2, typeSpecial):
			m.SortKey = d.binary()
		case field(3, typeSpecial):
			m.Value = d.binary()
		case field(4, typeI32):
			m.SetExpireTsSeconds = d.i32()
		default:
			d.skipField()
		}
	}
}

// CheckAndMutateRequest is the conditional multi-write.
type CheckAndMutateRequest struct {
	HashKey          []byte       // 1: dsn.blob
	CheckSortKey     []byte       // 2: dsn.blob
	CheckType        CASCheckType // 3: cas_check_type
	CheckOperand     []byte       // 4: dsn.blob
	MutateList       []Mutate     // 5: list<mutate>
	ReturnCheckValue bool         // 6: bool
}

func (*CheckAndMutateRequest) wireType() thriftType { return typeStruct }

func (m *CheckAndMutateRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendBlobField(b, 2, m.CheckSortKey)
	b = appendI32Field(b, 3, int32(m.CheckType))
	b = appendBlobField(b, 4, m.CheckOperand)
	b = appendStructListField(b, 5, m.MutateList)
	b = appendBoolField(b, 6, m.ReturnCheckValue)
	return appendStop(b)
}

func (m *CheckAndMutateRequest) readValue(d *decoder) {
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
		case field(5, typeList):
			m.MutateList = readStructList[Mutate](d)
		case field(6, typeBool):
			m.ReturnCheckValue = d.bool()
		default:
			d.skipField()
		}
	}
}

// CheckAndMutateResponse answers check_and_mutate. Its IDL struct has the
// same fields, ids and meaning as check_and_set_response; it is a distinct
// type so that a response can be checked against its RPC.
type CheckAndMutateResponse CheckAndSetResponse

func (*CheckAndMutateResponse) wireType() thriftType { return typeStruct }

func (m *CheckAndMutateResponse) appendValue(b []byte) []byte {
	return (*CheckAndSetResponse)(m).appendValue(b)
}

func (m *CheckAndMutateResponse) readValue(d *decoder) {
	(*CheckAndSetResponse)(m).readValue(d)
}
