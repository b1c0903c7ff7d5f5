package pegasusrpc

// Structs of put (RPC_RRDB_RRDB_PUT). UpdateResponse also answers
// multi_put and remove.

// UpdateRequest writes one value. Key is the encoded Pegasus key (see
// EncodeKey).
type UpdateRequest struct {
	Key             []byte // 1: dsn.blob
	Value           []byte // 2: dsn.blob
	ExpireTsSeconds int32  // 3: i32, seconds since ExpireEpochUnix; 0 = no TTL

	// The optional fields below are never set by clients. Servers set them
	// on puts derived from atomic writes so that replaying a mutation can
	// rebuild the atomic write's response.
	Type               Optional[UpdateType] // 4: optional update_type
	CheckValueReturned Optional[bool]       // 5: optional bool
	CheckValueExist    Optional[bool]       // 6: optional bool
	CheckValue         Optional[[]byte]     // 7: optional dsn.blob
}

func (*UpdateRequest) wireType() thriftType { return typeStruct }

func (m *UpdateRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.Key)
	b = appendBlobField(b, 2, m.Value)
	b = appendI32Field(b, 3, m.ExpireTsSeconds)
	if m.Type.Set {
		b = appendI32Field(b, 4, int32(m.Type.Value))
	}
	if m.CheckValueReturned.Set {
		b = appendBoolField(b, 5, m.CheckValueReturned.Value)
	}
	if m.CheckValueExist.Set {
		b = appendBoolField(b, 6, m.CheckValueExist.Value)
	}
	if m.CheckValue.Set {
		b = appendBlobField(b, 7, m.CheckValue.Value)
	}
	return appendStop(b)
}

func (m *UpdateRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.Key = d.binary()
		case field(2, typeSpecial):
			m.Value = d.binary()
		case field(3, typeI32):
			m.ExpireTsSeconds = d.i32()
		case field(4, typeI32):
			m.Type = Some(UpdateType(d.i32()))
		case field(5, typeBool):
			m.CheckValueReturned = Some(d.bool())
		case field(6, typeBool):
			m.CheckValueExist = Some(d.bool())
		case field(7, typeSpecial):
			m.CheckValue = Some(d.binary())
		default:
			d.skipField()
		}
	}
}

// UpdateResponse answers put, multi_put and remove.
type UpdateResponse struct {
	Error          StorageStatus // 1: i32
	AppID          int32         // 2: i32
	PartitionIndex int32         // 3: i32
	Decree         int64         // 4: i64, the decree the write was committed at
	Server         string        // 5: string, "host:port" of the answering replica
}

func (*UpdateResponse) wireType() thriftType { return typeStruct }

func (m *UpdateResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendI32Field(b, 2, m.AppID)
	b = appendI32Field(b, 3, m.PartitionIndex)
	b = appendI64Field(b, 4, m.Decree)
	b = appendStringField(b, 5, m.Server)
	return appendStop(b)
}

func (m *UpdateResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeI32):
			m.AppID = d.i32()
		case field(3, typeI32):
			m.PartitionIndex = d.i32()
		case field(4, typeI64):
			m.Decree = d.i64()
		case field(5, typeString):
			m.Server = d.string()
		default:
			d.skipField()
		}
	}
}
