package pegasusrpc

// RequestMeta is the thrift struct that follows a v1 request header
// (dsn.layer2.thrift request_meta). The Java client sends it; the Go client
// uses the fixed v0 header instead, which carries the same information.
type RequestMeta struct {
	AppID           int32  // 1: i32
	PartitionIndex  int32  // 2: i32
	ClientTimeout   int32  // 3: i32, milliseconds
	PartitionHash   uint64 // 4: i64, the routing hash of the key
	IsBackupRequest bool   // 5: bool, a read that may be served by a secondary
}

func (*RequestMeta) wireType() thriftType { return typeStruct }

func (m *RequestMeta) appendValue(b []byte) []byte {
	b = appendI32Field(b, 1, m.AppID)
	b = appendI32Field(b, 2, m.PartitionIndex)
	b = appendI32Field(b, 3, m.ClientTimeout)
	b = appendI64Field(b, 4, int64(m.PartitionHash))
	b = appendBoolField(b, 5, m.IsBackupRequest)
	return appendStop(b)
}

func (m *RequestMeta) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeI32):
			m.AppID = d.i32()
		case field(2, typeI32):
			m.PartitionIndex = d.i32()
		case field(3, typeI32):
			m.ClientTimeout = d.i32()
		case field(4, typeI64):
			m.PartitionHash = uint64(d.i64())
		case field(5, typeBool):
			m.IsBackupRequest = d.bool()
		default:
			d.skipField()
		}
	}
}
