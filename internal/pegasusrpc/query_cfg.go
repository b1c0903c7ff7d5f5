package pegasusrpc

// Structs of RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX (idl/dsn.layer2.thrift),
// the call both clients make to a meta server to open a table and to
// refresh routing after a replica error.

// QueryCfgRequest asks for the partition configurations of a table.
type QueryCfgRequest struct {
	AppName string // 1: string
	// PartitionIndices lists the partitions wanted; empty means all of
	// them, which is what the Go and Java clients always send.
	PartitionIndices []int32 // 2: list<i32>
}

func (*QueryCfgRequest) wireType() thriftType { return typeStruct }

func (m *QueryCfgRequest) appendValue(b []byte) []byte {
	b = appendStringField(b, 1, m.AppName)
	b = appendListField(b, 2, typeI32, m.PartitionIndices, appendI32)
	return appendStop(b)
}

func (m *QueryCfgRequest) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeString):
			m.AppName = d.string()
		case field(2, typeList):
			m.PartitionIndices = readList(d, typeI32, readI32)
		default:
			d.skipField()
		}
	}
}

// QueryCfgResponse answers QueryCfgRequest.
//
// The Go client accepts it only when Err is CodeOK, PartitionCount equals
// len(Partitions) and PartitionCount is a power of two no smaller than 2;
// it then indexes Partitions by Pid.PartitionIndex and dials Primary. A
// meta server that is not the leader answers CodeForwardToOthers with the
// leader in Partitions[0].Primary.
type QueryCfgResponse struct {
	Err            ErrorCode                // 1: dsn.error_code
	AppID          int32                    // 2: i32
	PartitionCount int32                    // 3: i32
	IsStateful     bool                     // 4: bool
	Partitions     []PartitionConfiguration // 5: list<partition_configuration>
}

func (*QueryCfgResponse) wireType() thriftType { return typeStruct }

func (m *QueryCfgResponse) appendValue(b []byte) []byte {
	b = appendFieldHeader(b, typeSpecial, 1)
	b = appendString(b, string(m.Err))
	b = appendI32Field(b, 2, m.AppID)
	b = appendI32Field(b, 3, m.PartitionCount)
	b = appendBoolField(b, 4, m.IsStateful)
	b = appendStructListField(b, 5, m.Partitions)
	return appendStop(b)
}

func (m *QueryCfgResponse) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.Err = ErrorCode(d.string())
		case field(2, typeI32):
			m.AppID = d.i32()
		case field(3, typeI32):
			m.PartitionCount = d.i32()
		case field(4, typeBool):
			m.IsStateful = d.bool()
		case field(5, typeList):
			m.Partitions = readStructList[PartitionConfiguration](d)
		default:
			d.skipField()
		}
	}
}

// PartitionConfiguration is the membership of one partition.
type PartitionConfiguration struct {
	Pid                 Gpid         // 1: dsn.gpid
	Ballot              int64        // 2: i64; < 0 marks a split child that is not ready
	MaxReplicaCount     int32        // 3: i32
	Primary             RPCAddress   // 4: dsn.rpc_address; what clients dial
	Secondaries         []RPCAddress // 5: list<dsn.rpc_address>
	LastDrops           []RPCAddress // 6: list<dsn.rpc_address>
	LastCommittedDecree int64        // 7: i64
	PartitionFlags      int32        // 8: i32

	// Host-name twins of the addresses above (IDL since 2.6). Leave them
	// unset when serving official clients: the Go client ignores them, and
	// clients of 2.5.0 and older do not know fields 9-11, skip them as
	// structs, mis-parse the host_port payload and fail to open the table.
	HpPrimary     Optional[HostPort]   // 9: optional dsn.host_port
	HpSecondaries Optional[[]HostPort] // 10: optional list<dsn.host_port>
	HpLastDrops   Optional[[]HostPort] // 11: optional list<dsn.host_port>
}

func (*PartitionConfiguration) wireType() thriftType { return typeStruct }

func (m *PartitionConfiguration) appendValue(b []byte) []byte {
	b = appendI64(appendFieldHeader(b, typeSpecial, 1), m.Pid.Int64())
	b = appendI64Field(b, 2, m.Ballot)
	b = appendI32Field(b, 3, m.MaxReplicaCount)
	b = appendRPCAddress(appendFieldHeader(b, typeSpecial, 4), m.Primary)
	b = appendListField(b, 5, typeSpecial, m.Secondaries, appendRPCAddress)
	b = appendListField(b, 6, typeSpecial, m.LastDrops, appendRPCAddress)
	b = appendI64Field(b, 7, m.LastCommittedDecree)
	b = appendI32Field(b, 8, m.PartitionFlags)
	if m.HpPrimary.Set {
		b = appendHostPort(appendFieldHeader(b, typeSpecial, 9), m.HpPrimary.Value)
	}
	if m.HpSecondaries.Set {
		b = appendListField(b, 10, typeSpecial, m.HpSecondaries.Value, appendHostPort)
	}
	if m.HpLastDrops.Set {
		b = appendListField(b, 11, typeSpecial, m.HpLastDrops.Value, appendHostPort)
	}
	return appendStop(b)
}

func (m *PartitionConfiguration) readValue(d *decoder) {
	for d.nextField() {
		switch d.field() {
		case field(1, typeSpecial):
			m.Pid = GpidFromInt64(d.i64())
		case field(2, typeI64):
			m.Ballot = d.i64()
		case field(3, typeI32):
			m.MaxReplicaCount = d.i32()
		case field(4, typeSpecial):
			m.Primary = readRPCAddress(d)
		case field(5, typeList):
			m.Secondaries = readList(d, typeSpecial, readRPCAddress)
		case field(6, typeList):
			m.LastDrops = readList(d, typeSpecial, readRPCAddress)
		case field(7, typeI64):
			m.LastCommittedDecree = d.i64()
		case field(8, typeI32):
			m.PartitionFlags = d.i32()
		case field(9, typeSpecial):
			m.HpPrimary = Some(readHostPort(d))
		case field(10, typeList):
			m.HpSecondaries = Some(readList(d, typeSpecial, readHostPort))
		case field(11, typeList):
			m.HpLastDrops = Some(readList(d, typeSpecial, readHostPort))
		default:
			d.skipField()
		}
	}
}
