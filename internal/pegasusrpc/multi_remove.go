package pegasusrpc

// Structs of multi_remove (RPC_RRDB_RRDB_MULTI_REMOVE).

// MultiRemoveRequest deletes sort keys under one hash key. The Go and Java
// clients send an empty SortKeys to mean "every sort key of the hash key".
type MultiRemoveRequest struct {
	HashKey  []byte   // 1: dsn.blob
	SortKeys [][]byte // 2: list<dsn.blob>
	MaxCount int64    // 3: i64, deprecated and ignored
}

func (*MultiRemoveRequest) wireType() thriftType { return typeStruct }

func (m *MultiRemoveRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendListField(b, 2, typeSpecial, m.SortKeys, appendBlob)
	b = appendI64Field(b, 3, m.MaxCount)
	return appendStop(b)
}

func (m *MultiRemoveRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeList):
			m.SortKeys = readList(d, typeSpecial, readBlob)
		case field(3, typeI64):
			m.MaxCount = d.i64()
		default:
			d.skipField()
		}
	}
}

// MultiRemoveResponse answers multi_remove with the number of keys removed.
type MultiRemoveResponse struct {
	Error          StorageStatus // 1: i32
	Count          int64         // 2: i64
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Decree         int64         // 5: i64
	Server         string        // 6: string
}

func (*MultiRemoveResponse) wireType() thriftType { return typeStruct }

func (m *MultiRemoveResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendI64Field(b, 2, m.Count)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendI64Field(b, 5, m.Decree)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *MultiRemoveResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeI64):
			m.Count = d.i64()
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
