package pegasusrpc

// Structs of multi_put (RPC_RRDB_RRDB_MULTI_PUT), answered by
// UpdateResponse. KeyValue is shared with multi_get and scan responses.

// KeyValue is one sort key (or, in scan responses, one full encoded key)
// with its value.
type KeyValue struct {
	Key   []byte // 1: dsn.blob
	Value []byte // 2: dsn.blob
	// ExpireTsSeconds is returned by scans that asked for return_expire_ts.
	ExpireTsSeconds Optional[int32] // 3: optional i32
}

func (*KeyValue) wireType() thriftType { return typeStruct }

func (m *KeyValue) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.Key)
	b = appendBlobField(b, 2, m.Value)
	if m.ExpireTsSeconds.Set {
		b = appendI32Field(b, 3, m.ExpireTsSeconds.Value)
	}
	return appendStop(b)
}

func (m *KeyValue) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.Key = d.binary()
		case field(2, typeSpecial):
			m.Value = d.binary()
		case field(3, typeI32):
			m.ExpireTsSeconds = Some(d.i32())
		default:
			d.skipField()
		}
	}
}

// MultiPutRequest writes several sort keys under one hash key atomically.
type MultiPutRequest struct {
	HashKey         []byte     // 1: dsn.blob
	Kvs             []KeyValue // 2: list<key_value>, Key = sort key
	ExpireTsSeconds int32      // 3: i32, applies to every kv
}

func (*MultiPutRequest) wireType() thriftType { return typeStruct }

func (m *MultiPutRequest) appendValue(b []byte) []byte {
	b = appendBlobField(b, 1, m.HashKey)
	b = appendStructListField(b, 2, m.Kvs)
	b = appendI32Field(b, 3, m.ExpireTsSeconds)
	return appendStop(b)
}

func (m *MultiPutRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.HashKey = d.binary()
		case field(2, typeList):
			m.Kvs = readStructList[KeyValue](d)
		case field(3, typeI32):
			m.ExpireTsSeconds = d.i32()
		default:
			d.skipField()
		}
	}
}
