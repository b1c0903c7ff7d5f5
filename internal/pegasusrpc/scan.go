package pegasusrpc

// Structs of the scanner RPCs: get_scanner opens a scan context and
// returns the first batch, scan fetches the next batch of a context, and
// clear_scanner (one-way, argument ScanContextID) drops a context early.

// GetScannerRequest opens a scan over the full keys in [StartKey, StopKey]
// of one partition. Keys are encoded Pegasus keys (see EncodeKey).
type GetScannerRequest struct {
	StartKey             []byte     // 1: dsn.blob
	StopKey              []byte     // 2: dsn.blob, empty = to the end
	StartInclusive       bool       // 3: bool
	StopInclusive        bool       // 4: bool
	BatchSize            int32      // 5: i32
	NoValue              bool       // 6: bool
	HashKeyFilterType    FilterType // 7: filter_type
	HashKeyFilterPattern []byte     // 8: dsn.blob
	SortKeyFilterType    FilterType // 9: filter_type
	SortKeyFilterPattern []byte     // 10: dsn.blob

	// ValidatePartitionHash: when unset the server validates (true).
	ValidatePartitionHash Optional[bool] // 11: optional bool
	ReturnExpireTs        Optional[bool] // 12: optional bool, default false
	FullScan              Optional[bool] // 13: optional bool
	OnlyReturnCount       Optional[bool] // 14: optional bool, default false
}

func (*GetScannerRequest) wireType() thriftType { return typeStruct }

func (m *GetScannerRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.StartKey)
	b = appendBlobField(b, 2, m.StopKey)
	b = appendBoolField(b, 3, m.StartInclusive)
	b = appendBoolField(b, 4, m.StopInclusive)
	b = appendI32Field(b, 5, m.BatchSize)
	b = appendBoolField(b, 6, m.NoValue)
	b = appendI32Field(b, 7, int32(m.HashKeyFilterType))
	b = appendBlobField(b, 8, m.HashKeyFilterPattern)
	b = appendI32Field(b, 9, int32(m.SortKeyFilterType))
	b = appendBlobField(b, 10, m.SortKeyFilterPattern)
	if m.ValidatePartitionHash.Set {
		b = appendBoolField(b, 11, m.ValidatePartitionHash.Value)
	}
	if m.ReturnExpireTs.Set {
		b = appendBoolField(b, 12, m.ReturnExpireTs.Value)
	}
	if m.FullScan.Set {
		b = appendBoolField(b, 13, m.FullScan.Value)
	}
	if m.OnlyReturnCount.Set {
		b = appendBoolField(b, 14, m.OnlyReturnCount.Value)
	}
	return appendStop(b)
}

func (m *GetScannerRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.StartKey = d.binary()
		case field(2, typeSpecial):
			m.StopKey = d.binary()
		case field(3, typeBool):
			m.StartInclusive = d.bool()
		case field(4, typeBool):
			m.StopInclusive = d.bool()
		case field(5, typeI32):
			m.BatchSize = d.i32()
		case field(6, typeBool):
			m.NoValue = d.bool()
		case field(7, typeI32):
			m.HashKeyFilterType = FilterType(d.i32())
		case field(8, typeSpecial):
			m.HashKeyFilterPattern = d.binary()
		case field(9, typeI32):
			m.SortKeyFilterType = FilterType(d.i32())
		case field(10, typeSpecial):
			m.SortKeyFilterPattern = d.binary()
		case field(11, typeBool):
			m.ValidatePartitionHash = Some(d.bool())
		case field(12, typeBool):
			m.ReturnExpireTs = Some(d.bool())
		case field(13, typeBool):
			m.FullScan = Some(d.bool())
		case field(14, typeBool):
			m.OnlyReturnCount = Some(d.bool())
		default:
			d.skipField()
		}
	}
}

// ScanRequest fetches the next batch of an open scan context.
type ScanRequest struct {
	ContextID ScanContextID // 1: i64
}

func (*ScanRequest) wireType() thriftType { return typeStruct }

func (m *ScanRequest) appendValue(b []byte) []byte {
	b = appendI64Field(b, 1, int64(m.ContextID))
	return appendStop(b)
}

func (m *ScanRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI64):
			m.ContextID = ScanContextID(d.i64())
		default:
			d.skipField()
		}
	}
}

// ScanResponse answers get_scanner and scan. Kvs carry full encoded keys.
// ContextID is the context to continue with, ScanContextCompleted when the
// scan is done. Error StatusNotFound means the context no longer exists.
type ScanResponse struct {
	Error          StorageStatus   // 1: i32
	Kvs            []KeyValue      // 2: list<key_value>
	ContextID      ScanContextID   // 3: i64
	AppID          int32           // 4: i32
	PartitionIndex int32           // 5: i32
	Server         string          // 6: string
	KvCount        Optional[int32] // 7: optional i32, for only_return_count scans
}

func (*ScanResponse) wireType() thriftType { return typeStruct }

func (m *ScanResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendStructListField(b, 2, m.Kvs)
	b = appendI64Field(b, 3, int64(m.ContextID))
	b = appendI32Field(b, 4, m.AppID)
	b = appendI32Field(b, 5, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	if m.KvCount.Set {
		b = appendI32Field(b, 7, m.KvCount.Value)
	}
	return appendStop(b)
}

func (m *ScanResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeList):
			m.Kvs = readStructList[KeyValue](d)
		case field(3, typeI64):
			m.ContextID = ScanContextID(d.i64())
		case field(4, typeI32):
			m.AppID = d.i32()
		case field(5, typeI32):
			m.PartitionIndex = d.i32()
		case field(6, typeString):
			m.Server = d.string()
		case field(7, typeI32):
			m.KvCount = Some(d.i32())
		default:
			d.skipField()
		}
	}
}
