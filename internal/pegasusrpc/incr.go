package pegasusrpc

// Structs of incr (RPC_RRDB_RRDB_INCR), an atomic read-modify-write of an
// int64 stored as its decimal string.

// IncrRequest adds Increment to the value of Key (a missing key counts as
// 0).
type IncrRequest struct {
	Key       []byte // 1: dsn.blob
	Increment int64  // 2: i64
	// ExpireTsSeconds: 0 keeps the current TTL, > 0 sets a new expiry,
	// < 0 removes the TTL.
	ExpireTsSeconds int32 // 3: i32
}

func (*IncrRequest) wireType() thriftType { return typeStruct }

func (m *IncrRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.Key)
	b = appendI64Field(b, 2, m.Increment)
	b = appendI32Field(b, 3, m.ExpireTsSeconds)
	return appendStop(b)
}

func (m *IncrRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.Key = d.binary()
		case field(2, typeI64):
			m.Increment = d.i64()
		case field(3, typeI32):
			m.ExpireTsSeconds = d.i32()
		default:
			d.skipField()
		}
	}
}

// IncrResponse answers incr with the value after the increment.
type IncrResponse struct {
	Error          StorageStatus // 1: i32
	NewValue       int64         // 2: i64
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Decree         int64         // 5: i64
	Server         string        // 6: string
}

func (*IncrResponse) wireType() thriftType { return typeStruct }

func (m *IncrResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendI64Field(b, 2, m.NewValue)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendI64Field(b, 5, m.Decree)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *IncrResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeI64):
			m.NewValue = d.i64()
		case field(3, typeI32):
			m.AppID = d.i32()
		case field(4, typeI32):
			m.PartitionIndex = d.i32()
		case field(5, typeI64):
			m.Decree = d.i64()
		case field(6, typeString):
			m.Server = d.string()
		default:
			d.skipField()
		}
	}
}
