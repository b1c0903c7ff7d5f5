package pegasusrpc

// ErrorCode is an rDSN error name (dsn.error_code) exactly as it travels on
// the wire: a thrift string such as "ERR_OK". It appears twice in the
// protocol: as the rpc-level error at the head of every response frame, and
// as the err field of query_cfg_response. Numeric values differ between the
// C++ server, the Go client and the Java client; only the names are shared.
type ErrorCode string

// The error names the official clients can parse. The Go client
// (go-client/idl/base/error_code.go) knows exactly this set, the Java client
// a superset. The C++ server defines more names (ERR_LEARNER_NOT_FOUND,
// ERR_DIR_NOT_EMPTY, ERR_RDB_CORRUPTION, ...) which are deliberately absent:
// a Go client that receives a name outside this set drops the connection
// and fails every call pipelined on it.
const (
	// CodeOK: the call succeeded; only then does the response carry a result body.
	CodeOK                 ErrorCode = "ERR_OK"
	CodeUnknown            ErrorCode = "ERR_UNKNOWN"
	CodeReplicationFailure ErrorCode = "ERR_REPLICATION_FAILURE"
	CodeAppExist           ErrorCode = "ERR_APP_EXIST"
	CodeAppNotExist        ErrorCode = "ERR_APP_NOT_EXIST"
	CodeAppDropped         ErrorCode = "ERR_APP_DROPPED"
	// CodeBusyCreating: the table is being created or recalled.
	CodeBusyCreating ErrorCode = "ERR_BUSY_CREATING"
	// CodeBusyDropping: the table is being dropped.
	CodeBusyDropping          ErrorCode = "ERR_BUSY_DROPPING"
	CodeExpired               ErrorCode = "ERR_EXPIRED"
	CodeLockAlreadyExist      ErrorCode = "ERR_LOCK_ALREADY_EXIST"
	CodeHoldByOthers          ErrorCode = "ERR_HOLD_BY_OTHERS"
	CodeRecursiveLock         ErrorCode = "ERR_RECURSIVE_LOCK"
	CodeNoOwner               ErrorCode = "ERR_NO_OWNER"
	CodeNodeAlreadyExist      ErrorCode = "ERR_NODE_ALREADY_EXIST"
	CodeInconsistentState     ErrorCode = "ERR_INCONSISTENT_STATE"
	CodeArrayIndexOutOfRange  ErrorCode = "ERR_ARRAY_INDEX_OUT_OF_RANGE"
	CodeServiceNotFound       ErrorCode = "ERR_SERVICE_NOT_FOUND"
	CodeServiceAlreadyRunning ErrorCode = "ERR_SERVICE_ALREADY_RUNNING"
	CodeIOPending             ErrorCode = "ERR_IO_PENDING"
	// CodeTimeout: the server gave up before the client deadline.
	CodeTimeout          ErrorCode = "ERR_TIMEOUT"
	CodeServiceNotActive ErrorCode = "ERR_SERVICE_NOT_ACTIVE"
	// CodeBusy: the partition is throttling; clients neither re-route nor retry.
	CodeBusy              ErrorCode = "ERR_BUSY"
	CodeNetworkInitFailed ErrorCode = "ERR_NETWORK_INIT_FAILED"
	// CodeForwardToOthers: not the meta leader; query_cfg_response.partitions[0].primary names the leader.
	CodeForwardToOthers ErrorCode = "ERR_FORWARD_TO_OTHERS"
	// CodeObjectNotFound: no such table (meta) or partition not hosted here (replica).
	CodeObjectNotFound ErrorCode = "ERR_OBJECT_NOT_FOUND"
	// CodeHandlerNotFound: the server has no handler for the RPC name.
	CodeHandlerNotFound     ErrorCode = "ERR_HANDLER_NOT_FOUND"
	CodeLearnFileFailed     ErrorCode = "ERR_LEARN_FILE_FAILED"
	CodeGetLearnStateFailed ErrorCode = "ERR_GET_LEARN_STATE_FAILED"
	CodeInvalidVersion      ErrorCode = "ERR_INVALID_VERSION"
	CodeInvalidParameters   ErrorCode = "ERR_INVALID_PARAMETERS"
	// CodeCapacityExceeded: a write exceeds the server limits.
	CodeCapacityExceeded ErrorCode = "ERR_CAPACITY_EXCEEDED"
	// CodeInvalidState: this replica is not the primary or not serving; clients re-query the meta.
	CodeInvalidState  ErrorCode = "ERR_INVALID_STATE"
	CodeInactiveState ErrorCode = "ERR_INACTIVE_STATE"
	// CodeNotEnoughMember: too few replicas to accept a write.
	CodeNotEnoughMember     ErrorCode = "ERR_NOT_ENOUGH_MEMBER"
	CodeFileOperationFailed ErrorCode = "ERR_FILE_OPERATION_FAILED"
	CodeHandleEOF           ErrorCode = "ERR_HANDLE_EOF"
	CodeWrongChecksum       ErrorCode = "ERR_WRONG_CHECKSUM"
	// CodeInvalidData: the request could not be decoded.
	CodeInvalidData         ErrorCode = "ERR_INVALID_DATA"
	CodeInvalidHandle       ErrorCode = "ERR_INVALID_HANDLE"
	CodeIncompleteData      ErrorCode = "ERR_INCOMPLETE_DATA"
	CodeVersionOutdated     ErrorCode = "ERR_VERSION_OUTDATED"
	CodePathNotFound        ErrorCode = "ERR_PATH_NOT_FOUND"
	CodePathAlreadyExist    ErrorCode = "ERR_PATH_ALREADY_EXIST"
	CodeAddressAlreadyUsed  ErrorCode = "ERR_ADDRESS_ALREADY_USED"
	CodeStateFreezed        ErrorCode = "ERR_STATE_FREEZED"
	CodeLocalAppFailure     ErrorCode = "ERR_LOCAL_APP_FAILURE"
	CodeBindIOCPFailed      ErrorCode = "ERR_BIND_IOCP_FAILED"
	CodeNetworkStartFailed  ErrorCode = "ERR_NETWORK_START_FAILED"
	CodeNotImplemented      ErrorCode = "ERR_NOT_IMPLEMENTED"
	CodeCheckpointFailed    ErrorCode = "ERR_CHECKPOINT_FAILED"
	CodeWrongTiming         ErrorCode = "ERR_WRONG_TIMING"
	CodeNoNeedOperate       ErrorCode = "ERR_NO_NEED_OPERATE"
	CodeCorruption          ErrorCode = "ERR_CORRUPTION"
	CodeTryAgain            ErrorCode = "ERR_TRY_AGAIN"
	CodeClusterNotFound     ErrorCode = "ERR_CLUSTER_NOT_FOUND"
	CodeClusterAlreadyExist ErrorCode = "ERR_CLUSTER_ALREADY_EXIST"
	CodeServiceAlreadyExist ErrorCode = "ERR_SERVICE_ALREADY_EXIST"
	CodeInjected            ErrorCode = "ERR_INJECTED"
	CodeNetworkFailure      ErrorCode = "ERR_NETWORK_FAILURE"
	CodeUnderRecovery       ErrorCode = "ERR_UNDER_RECOVERY"
	CodeOperationDisabled   ErrorCode = "ERR_OPERATION_DISABLED"
	CodeZookeeperOperation  ErrorCode = "ERR_ZOOKEEPER_OPERATION"
	CodeChildRegistered     ErrorCode = "ERR_CHILD_REGISTERED"
	CodeIngestionFailed     ErrorCode = "ERR_INGESTION_FAILED"
	CodeUnauthenticated     ErrorCode = "ERR_UNAUTHENTICATED"
	CodeKrb5Internal        ErrorCode = "ERR_KRB5_INTERNAL"
	CodeSASLInternal        ErrorCode = "ERR_SASL_INTERNAL"
	CodeSASLIncomplete      ErrorCode = "ERR_SASL_INCOMPLETE"
	CodeACLDeny             ErrorCode = "ERR_ACL_DENY"
	// CodeSplitting: the partition is splitting.
	CodeSplitting ErrorCode = "ERR_SPLITTING"
	// CodeParentPartitionMisused: a request for a split child reached the parent.
	CodeParentPartitionMisused ErrorCode = "ERR_PARENT_PARTITION_MISUSED"
	CodeChildNotReady          ErrorCode = "ERR_CHILD_NOT_READY"
	// CodeDiskInsufficient: the replica is out of disk.
	CodeDiskInsufficient ErrorCode = "ERR_DISK_INSUFFICIENT"
	// CodeSessionReset: produced by the Go client itself when a connection breaks; servers never send it.
	CodeSessionReset ErrorCode = "ERR_SESSION_RESET"
)

// knownErrorCodes is the set above, used to refuse unparseable names.
var knownErrorCodes = map[ErrorCode]struct{}{
	CodeOK:                     {},
	CodeUnknown:                {},
	CodeReplicationFailure:     {},
	CodeAppExist:               {},
	CodeAppNotExist:            {},
	CodeAppDropped:             {},
	CodeBusyCreating:           {},
	CodeBusyDropping:           {},
	CodeExpired:                {},
	CodeLockAlreadyExist:       {},
	CodeHoldByOthers:           {},
	CodeRecursiveLock:          {},
	CodeNoOwner:                {},
	CodeNodeAlreadyExist:       {},
	CodeInconsistentState:      {},
	CodeArrayIndexOutOfRange:   {},
	CodeServiceNotFound:        {},
	CodeServiceAlreadyRunning:  {},
	CodeIOPending:              {},
	CodeTimeout:                {},
	CodeServiceNotActive:       {},
	CodeBusy:                   {},
	CodeNetworkInitFailed:      {},
	CodeForwardToOthers:        {},
	CodeObjectNotFound:         {},
	CodeHandlerNotFound:        {},
	CodeLearnFileFailed:        {},
	CodeGetLearnStateFailed:    {},
	CodeInvalidVersion:         {},
	CodeInvalidParameters:      {},
	CodeCapacityExceeded:       {},
	CodeInvalidState:           {},
	CodeInactiveState:          {},
	CodeNotEnoughMember:        {},
	CodeFileOperationFailed:    {},
	CodeHandleEOF:              {},
	CodeWrongChecksum:          {},
	CodeInvalidData:            {},
	CodeInvalidHandle:          {},
	CodeIncompleteData:         {},
	CodeVersionOutdated:        {},
	CodePathNotFound:           {},
	CodePathAlreadyExist:       {},
	CodeAddressAlreadyUsed:     {},
	CodeStateFreezed:           {},
	CodeLocalAppFailure:        {},
	CodeBindIOCPFailed:         {},
	CodeNetworkStartFailed:     {},
	CodeNotImplemented:         {},
	CodeCheckpointFailed:       {},
	CodeWrongTiming:            {},
	CodeNoNeedOperate:          {},
	CodeCorruption:             {},
	CodeTryAgain:               {},
	CodeClusterNotFound:        {},
	CodeClusterAlreadyExist:    {},
	CodeServiceAlreadyExist:    {},
	CodeInjected:               {},
	CodeNetworkFailure:         {},
	CodeUnderRecovery:          {},
	CodeOperationDisabled:      {},
	CodeZookeeperOperation:     {},
	CodeChildRegistered:        {},
	CodeIngestionFailed:        {},
	CodeUnauthenticated:        {},
	CodeKrb5Internal:           {},
	CodeSASLInternal:           {},
	CodeSASLIncomplete:         {},
	CodeACLDeny:                {},
	CodeSplitting:              {},
	CodeParentPartitionMisused: {},
	CodeChildNotReady:          {},
	CodeDiskInsufficient:       {},
	CodeSessionReset:           {},
}

// Known reports whether both official clients can parse c.
func (c ErrorCode) Known() bool {
	_, ok := knownErrorCodes[c]
	return ok
}

// IsOK reports whether c is ERR_OK.
func (c ErrorCode) IsOK() bool { return c == CodeOK }

func (c ErrorCode) String() string { return string(c) }

// Error lets an ErrorCode be returned as an error by handlers that want to
// surface a wire code unchanged.
func (c ErrorCode) Error() string { return "pegasusrpc: rpc error " + string(c) }
