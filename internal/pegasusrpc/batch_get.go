package pegasusrpc

// Structs of batch_get (RPC_RRDB_RRDB_BATCH_GET), sent by the Java client
// to read many full keys of one partition in one call.

// FullKey is a hash key and sort key pair.
type FullKey struct {
	HashKey []byte // 1: dsn.blob
	SortKey []byte // 2: dsn.blob
}

func (*FullKey) wireType() thriftType { return typeStruct }

func (m *FullKey) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendBlobField(b, 2, m.SortKey)
	return appendStop(b)
}

func (m *FullKey) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeSpecial):
			m.SortKey = d.binary()
		default:
			d.skipField()
		}
	}
}

// BatchGetRequest lists the keys to read; all must route to the partition
// the request was sent to.
type BatchGetRequest struct {
	Keys []FullKey // 1: list<full_key>
}

func (*BatchGetRequest) wireType() thriftType { return typeStruct }

func (m *BatchGetRequest) appendValue(b []byte) []byte {
	b = appendStructListField(b, 1, m.Keys)
	return appendStop(b)
}

func (m *BatchGetRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeList):
			m.Keys = readStructList[FullKey](d)
		default:
			d.skipField()
		}
	}
}

// FullData is one key found by batch_get, with its value.
type FullData struct {
	HashKey []byte // 1: dsn.blob
	SortKey []byte // 2: dsn.blob
	Value   []byte // 3: dsn.blob
}

func (*FullData) wireType() thriftType { return typeStruct }

func (m *FullData) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendBlobField(b, 2, m.SortKey)
	b = appendBlobField(b, 3, m.Value)
	return appendStop(b)
}

func (m *FullData) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeSpecial):
			m.SortKey = d.binary()
		case field(3, typeSpecial):
			m.Value = d.binary()
		default:
			d.skipField()
		}
	}
}

// BatchGetResponse answers batch_get with the keys that exist.
type BatchGetResponse struct {
	Error          StorageStatus // 1: i32
	Data           []FullData    // 2: list<full_data>
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Server         string        // 6: string
}

func (*BatchGetResponse) wireType() thriftType { return typeStruct }

func (m *BatchGetResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendStructListField(b, 2, m.Data)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *BatchGetResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeList):
			m.Data = readStructList[FullData](d)
		case field(3, typeI32):
			m.AppID = d.i32()
		case field(4, typeI32):
			m.PartitionIndex = d.i32()
		case field(6, typeString):
			m.Server = d.string()
		default:
			d.skipField()
		}
	}
}
