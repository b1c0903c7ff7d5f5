package pegasusrpc

import "strconv"

// StorageStatus is the i32 `error` field of every rrdb response struct. It
// is a RocksDB status code, independent of the rpc-level ErrorCode: a call
// can succeed at the rpc level (CodeOK) and still report, say, NotFound.
type StorageStatus int32

// Storage status values as the official clients interpret them.
const (
	StatusOK StorageStatus = 0
	// StatusNotFound: get/ttl return "no value" rather than an error; scan
	// reports that the scan context is gone.
	StatusNotFound        StorageStatus = 1
	StatusCorruption      StorageStatus = 2
	StatusNotSupported    StorageStatus = 3
	StatusInvalidArgument StorageStatus = 4
	StatusIOError         StorageStatus = 5
	StatusMergeInProgress StorageStatus = 6
	// StatusIncomplete: multi_get hit max_kv_count or max_kv_size and the
	// result is partial.
	StatusIncomplete         StorageStatus = 7
	StatusShutdownInProgress StorageStatus = 8
	StatusTimedOut           StorageStatus = 9
	StatusAborted            StorageStatus = 10
	StatusBusy               StorageStatus = 11
	StatusExpired            StorageStatus = 12
	// StatusTryAgain: the check of check_and_set / check_and_mutate did
	// not pass, so nothing was written.
	StatusTryAgain StorageStatus = 13
)

var storageStatusNames = [...]string{
	StatusOK:                 "Ok",
	StatusNotFound:           "NotFound",
	StatusCorruption:         "Corruption",
	StatusNotSupported:       "NotSupported",
	StatusInvalidArgument:    "InvalidArgument",
	StatusIOError:            "IOError",
	StatusMergeInProgress:    "MergeInProgress",
	StatusIncomplete:         "Incomplete",
	StatusShutdownInProgress: "ShutdownInProgress",
	StatusTimedOut:           "TimedOut",
	StatusAborted:            "Aborted",
	StatusBusy:               "Busy",
	StatusExpired:            "Expired",
	StatusTryAgain:           "TryAgain",
}

func (s StorageStatus) String() string {
	if s >= 0 && int(s) < len(storageStatusNames) {
		return storageStatusNames[s]
	}
	return "StorageStatus(" + strconv.Itoa(int(s)) + ")"
}

// ExpireEpochUnix is the Unix time of 2016-01-01T00:00:00Z. Every
// expire_ts_seconds on the wire counts seconds from this epoch, and 0 means
// "never expires".
const ExpireEpochUnix = 1451606400
