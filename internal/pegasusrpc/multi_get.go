package pegasusrpc

// Structs of multi_get (RPC_RRDB_RRDB_MULTI_GET).

// MultiGetRequest reads several sort keys of one hash key: either the
// listed SortKeys, or (when SortKeys is empty) the range
// [StartSortkey, StopSortkey] filtered by pattern, in either direction.
type MultiGetRequest struct {
	HashKey              []byte     // 1: dsn.blob
	SortKeys             [][]byte   // 2: list<dsn.blob>; non-empty = exactly these keys
	MaxKvCount           int32      // 3: i32, <= 0 = no limit
	MaxKvSize            int32      // 4: i32, <= 0 = no limit
	NoValue              bool       // 5: bool, return sort keys only
	StartSortkey         []byte     // 6: dsn.blob
	StopSortkey          []byte     // 7: dsn.blob, empty = to the last sort key
	StartInclusive       bool       // 8: bool
	StopInclusive        bool       // 9: bool
	SortKeyFilterType    FilterType // 10: filter_type
	SortKeyFilterPattern []byte     // 11: dsn.blob
	Reverse              bool       // 12: bool
}

func (*MultiGetRequest) wireType() thriftType { return typeStruct }

func (m *MultiGetRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendListField(b, 2, typeSpecial, m.SortKeys, appendBlob)
	b = appendI32Field(b, 3, m.MaxKvCount)
	b = appendI32Field(b, 4, m.MaxKvSize)
	b = appendBoolField(b, 5, m.NoValue)
	b = appendBlobField(b, 6, m.StartSortkey)
	b = appendBlobField(b, 7, m.StopSortkey)
	b = appendBoolField(b, 8, m.StartInclusive)
	b = appendBoolField(b, 9, m.StopInclusive)
	b = appendI32Field(b, 10, int32(m.SortKeyFilterType))
	b = appendBlobField(b, 11, m.SortKeyFilterPattern)
	b = appendBoolField(b, 12, m.Reverse)
	return appendStop(b)
}

func (m *MultiGetRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeList):
			m.SortKeys = readList(d, typeSpecial, readBlob)
		case field(3, typeI32):
			m.MaxKvCount = d.i32()
		case field(4, typeI32):
			m.MaxKvSize = d.i32()
		case field(5, typeBool):
			m.NoValue = d.bool()
		case field(6, typeSpecial):
			m.StartSortkey = d.binary()
		case field(7, typeSpecial):
			m.StopSortkey = d.binary()
		case field(8, typeBool):
			m.StartInclusive = d.bool()
		case field(9, typeBool):
			m.StopInclusive = d.bool()
		case field(10, typeI32):
			m.SortKeyFilterType = FilterType(d.i32())
		case field(11, typeSpecial):
			m.SortKeyFilterPattern = d.binary()
		case field(12, typeBool):
			m.Reverse = d.bool()
		default:
			d.skipField()
		}
	}
}

// MultiGetResponse answers multi_get. Kvs are ordered by sort key (reversed
// for a reverse request); Error is StatusIncomplete when a limit cut the
// result short.
type MultiGetResponse struct {
	Error          StorageStatus // 1: i32
	Kvs            []KeyValue    // 2: list<key_value>, Key = sort key
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Server         string        // 6: string
}

func (*MultiGetResponse) wireType() thriftType { return typeStruct }

func (m *MultiGetResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendStructListField(b, 2, m.Kvs)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *MultiGetResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeList):
			m.Kvs = readStructList[KeyValue](d)
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
