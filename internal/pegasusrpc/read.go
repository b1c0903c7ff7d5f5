package pegasusrpc

// Responses of the single-key reads whose argument is a bare Blob: get
// (ReadResponse), ttl (TTLResponse) and sortkey_count (CountResponse). Field
// id 5 is unused in all three, as in the IDL.

// ReadResponse answers get. Error is StatusNotFound for a missing or
// expired key, which clients report as "no value", not as a failure.
type ReadResponse struct {
	Error          StorageStatus // 1: i32
	Value          []byte        // 2: dsn.blob
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Server         string        // 6: string
}

func (*ReadResponse) wireType() thriftType { return typeStruct }

func (m *ReadResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendBlobField(b, 2, m.Value)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *ReadResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeSpecial):
			m.Value = d.binary()
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

// TTLResponse answers ttl. TTLSeconds is the remaining time to live, or -1
// when the key has no TTL.
type TTLResponse struct {
	Error          StorageStatus // 1: i32
	TTLSeconds     int32         // 2: i32
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Server         string        // 6: string
}

func (*TTLResponse) wireType() thriftType { return typeStruct }

func (m *TTLResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendI32Field(b, 2, m.TTLSeconds)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *TTLResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.Error = StorageStatus(d.i32())
		case field(2, typeI32):
			m.TTLSeconds = d.i32()
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

// CountResponse answers sortkey_count: the number of live sort keys under
// one hash key.
type CountResponse struct {
	Error          StorageStatus // 1: i32
	Count          int64         // 2: i64
	AppID          int32         // 3: i32
	PartitionIndex int32         // 4: i32
	Server         string        // 6: string
}

func (*CountResponse) wireType() thriftType { return typeStruct }

func (m *CountResponse) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, int32(m.Error))
	b = appendI64Field(b, 2, m.Count)
	b = appendI32Field(b, 3, m.AppID)
	b = appendI32Field(b, 4, m.PartitionIndex)
	b = appendStringField(b, 6, m.Server)
	return appendStop(b)
}

func (m *CountResponse) readValue(d *decoder) {
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
		case field(6, typeString):
			m.Server = d.string()
		default:
			d.skipField()
		}
	}
}
