package client

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Table is an opened table. It is safe for concurrent use; every operation
// goes to the primary of the partition its hash key belongs to.
//
// Keys and values are byte slices the caller keeps ownership of: the client
// never retains or modifies them after an operation returns. Slices returned
// to the caller are the caller's.
type Table struct {
	c      *Client
	name   string
	routes *routeCache
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// KeyValue is one record under a hash key.
type KeyValue struct {
	SortKey []byte
	Value   []byte
}

// NoTTL is what TTL returns for a record that never expires.
const NoTTL time.Duration = -1

// MaxHashKeyLen is the longest hash key a record may have: the storage
// format prefixes keys with a 16-bit length.
const MaxHashKeyLen = math.MaxUint16 - 1

// Operation kinds, with what their successful response must carry.
var (
	opGet          = opKind{name: "get", hasResult: func(r *pb.ClientResponse) bool { return r.GetGet() != nil }}
	opExist        = opKind{name: "exist", hasResult: func(r *pb.ClientResponse) bool { return r.GetExist() != nil }}
	opTTL          = opKind{name: "ttl", hasResult: func(r *pb.ClientResponse) bool { return r.GetTtl() != nil }}
	opMultiGet     = opKind{name: "multi_get", hasResult: func(r *pb.ClientResponse) bool { return r.GetMultiGet() != nil }}
	opSortKeyCount = opKind{name: "sort_key_count", hasResult: func(r *pb.ClientResponse) bool { return r.GetSortKeyCount() != nil }}
	opScan         = opKind{name: "scan", hasResult: func(r *pb.ClientResponse) bool { return r.GetScan() != nil }}
	opSet          = opKind{name: "set", write: true}
	opMultiSet     = opKind{name: "multi_set", write: true}
	opDel          = opKind{name: "del", write: true}
	opMultiDel     = opKind{name: "multi_del", write: true}
	opIncr         = opKind{name: "incr", write: true, hasResult: func(r *pb.ClientResponse) bool { return r.GetIncr() != nil }}
	opCheckAndSet  = opKind{name: "check_and_set", write: true, hasResult: func(r *pb.ClientResponse) bool { return r.GetCheckAndSet() != nil }}
)

// Get reads one record. found is false, with a nil error, when the record
// does not exist or has expired.
func (t *Table) Get(ctx context.Context, hashKey, sortKey []byte) (value []byte, found bool, err error) {
	if err := checkHashKey(hashKey, true); err != nil {
		return nil, false, t.invalid(opGet, err)
	}
	resp, err := t.invoke(ctx, opGet, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Get{Get: &pb.GetRequest{HashKey: hashKey, SortKey: sortKey}},
	})
	if err != nil {
		return nil, false, err
	}
	r := resp.GetGet()
	if !r.GetFound() {
		return nil, false, nil
	}
	return r.GetValue(), true, nil
}

// Set writes one record. A ttl of 0 means the record never expires; a
// positive ttl is rounded up to whole seconds.
func (t *Table) Set(ctx context.Context, hashKey, sortKey, value []byte, ttl time.Duration) error {
	secs, err := ttlSeconds(ttl)
	if err == nil {
		err = checkHashKey(hashKey, true)
	}
	if err != nil {
		return t.invalid(opSet, err)
	}
	_, err = t.invoke(ctx, opSet, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Set{Set: &pb.SetRequest{HashKey: hashKey, SortKey: sortKey, Value: value, TtlSeconds: secs}},
	})
	return err
}

// Del deletes one record. Deleting a record that does not exist succeeds.
func (t *Table) Del(ctx context.Context, hashKey, sortKey []byte) error {
	if err := checkHashKey(hashKey, true); err != nil {
		return t.invalid(opDel, err)
	}
	_, err := t.invoke(ctx, opDel, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Del{Del: &pb.DelRequest{HashKey: hashKey, SortKey: sortKey}},
	})
	return err
}

// Exist reports whether a record exists, without reading its value.
func (t *Table) Exist(ctx context.Context, hashKey, sortKey []byte) (bool, error) {
	if err := checkHashKey(hashKey, true); err != nil {
		return false, t.invalid(opExist, err)
	}
	resp, err := t.invoke(ctx, opExist, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Exist{Exist: &pb.ExistRequest{HashKey: hashKey, SortKey: sortKey}},
	})
	if err != nil {
		return false, err
	}
	return resp.GetExist().GetFound(), nil
}

// TTL returns how long a record has left to live, in whole seconds, or
// NoTTL when it never expires. found is false when the record does not exist.
func (t *Table) TTL(ctx context.Context, hashKey, sortKey []byte) (ttl time.Duration, found bool, err error) {
	if err := checkHashKey(hashKey, true); err != nil {
		return 0, false, t.invalid(opTTL, err)
	}
	resp, err := t.invoke(ctx, opTTL, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Ttl{Ttl: &pb.TTLRequest{HashKey: hashKey, SortKey: sortKey}},
	})
	if err != nil {
		return 0, false, err
	}
	r := resp.GetTtl()
	switch {
	case !r.GetFound():
		return 0, false, nil
	case r.GetTtlSeconds() < 0:
		return NoTTL, true, nil
	}
	return time.Duration(r.GetTtlSeconds()) * time.Second, true, nil
}

// MultiGetOptions limit what MultiGet returns. The zero value (or nil)
// returns every requested record with its value, as far as the server's
// own limits allow.
type MultiGetOptions struct {
	// MaxCount and MaxBytes stop the read after that many records or bytes;
	// 0 leaves the limit to the server.
	MaxCount int
	MaxBytes int
	// NoValue returns sort keys only.
	NoValue bool
}

// MultiGet reads several records of one hash key: the given sort keys, or
// every sort key of the hash key when sortKeys is empty. Records that do not
// exist are left out; records come back in sort key order. more is true when
// a limit (MultiGetOptions or the server's) cut the answer short.
func (t *Table) MultiGet(ctx context.Context, hashKey []byte, sortKeys [][]byte, opts *MultiGetOptions) (kvs []KeyValue, more bool, err error) {
	var o MultiGetOptions
	if opts != nil {
		o = *opts
	}
	err = checkHashKey(hashKey, false)
	if err == nil && (o.MaxCount < 0 || o.MaxBytes < 0 || o.MaxCount > math.MaxInt32 || o.MaxBytes > math.MaxInt32) {
		err = fmt.Errorf("%w: MultiGetOptions limits must be in [0, %d]", ErrInvalidArgument, math.MaxInt32)
	}
	if err != nil {
		return nil, false, t.invalid(opMultiGet, err)
	}
	resp, err := t.invoke(ctx, opMultiGet, PartitionHash(hashKey, nil), &pb.ClientRequest{
		Op: &pb.ClientRequest_MultiGet{MultiGet: &pb.MultiGetRequest{
			HashKey:  hashKey,
			SortKeys: sortKeys,
			MaxCount: int32(o.MaxCount),
			MaxBytes: int32(o.MaxBytes),
			NoValue:  o.NoValue,
		}},
	})
	if err != nil {
		return nil, false, err
	}
	r := resp.GetMultiGet()
	kvs = make([]KeyValue, len(r.GetKvs()))
	for i, kv := range r.GetKvs() {
		kvs[i] = KeyValue{SortKey: kv.GetSortKey(), Value: kv.GetValue()}
	}
	return kvs, r.GetIncomplete(), nil
}

// MultiSet writes several records of one hash key atomically, all with the
// same ttl (0 = never expire).
func (t *Table) MultiSet(ctx context.Context, hashKey []byte, kvs []KeyValue, ttl time.Duration) error {
	secs, err := ttlSeconds(ttl)
	if err == nil {
		err = checkHashKey(hashKey, false)
	}
	if err == nil && len(kvs) == 0 {
		err = fmt.Errorf("%w: MultiSet of no records", ErrInvalidArgument)
	}
	if err != nil {
		return t.invalid(opMultiSet, err)
	}
	wire := make([]*pb.KeyValue, len(kvs))
	for i, kv := range kvs {
		wire[i] = &pb.KeyValue{SortKey: kv.SortKey, Value: kv.Value}
	}
	_, err = t.invoke(ctx, opMultiSet, PartitionHash(hashKey, nil), &pb.ClientRequest{
		Op: &pb.ClientRequest_MultiSet{MultiSet: &pb.MultiSetRequest{HashKey: hashKey, Kvs: wire, TtlSeconds: secs}},
	})
	return err
}

// MultiDel deletes several records of one hash key atomically.
func (t *Table) MultiDel(ctx context.Context, hashKey []byte, sortKeys [][]byte) error {
	err := checkHashKey(hashKey, false)
	if err == nil && len(sortKeys) == 0 {
		err = fmt.Errorf("%w: MultiDel of no sort keys", ErrInvalidArgument)
	}
	if err != nil {
		return t.invalid(opMultiDel, err)
	}
	_, err = t.invoke(ctx, opMultiDel, PartitionHash(hashKey, nil), &pb.ClientRequest{
		Op: &pb.ClientRequest_MultiDel{MultiDel: &pb.MultiDelRequest{HashKey: hashKey, SortKeys: sortKeys}},
	})
	return err
}

// SortKeyCount returns how many live records a hash key has.
func (t *Table) SortKeyCount(ctx context.Context, hashKey []byte) (int64, error) {
	if err := checkHashKey(hashKey, false); err != nil {
		return 0, t.invalid(opSortKeyCount, err)
	}
	resp, err := t.invoke(ctx, opSortKeyCount, PartitionHash(hashKey, nil), &pb.ClientRequest{
		Op: &pb.ClientRequest_SortKeyCount{SortKeyCount: &pb.SortKeyCountRequest{HashKey: hashKey}},
	})
	if err != nil {
		return 0, err
	}
	return resp.GetSortKeyCount().GetCount(), nil
}

// IncrOptions change a record's TTL as Incr updates it. The zero value (or
// nil) keeps the record's TTL.
type IncrOptions struct {
	// TTL, when positive, gives the record a new time to live.
	TTL time.Duration
	// ClearTTL makes the record never expire.
	ClearTTL bool
}

// Incr adds delta to the integer stored as the record's value (a missing
// record counts as 0) and returns the new value. It fails with
// ErrInvalidArgument when the value is not a decimal int64 or the sum
// overflows.
func (t *Table) Incr(ctx context.Context, hashKey, sortKey []byte, delta int64, opts *IncrOptions) (int64, error) {
	var o IncrOptions
	if opts != nil {
		o = *opts
	}
	err := checkHashKey(hashKey, true)
	var expire int32
	switch {
	case err != nil:
	case o.ClearTTL && o.TTL != 0:
		err = fmt.Errorf("%w: IncrOptions sets both TTL and ClearTTL", ErrInvalidArgument)
	case o.ClearTTL:
		expire = -1
	case o.TTL < 0:
		err = fmt.Errorf("%w: negative IncrOptions.TTL %v", ErrInvalidArgument, o.TTL)
	default:
		expire, err = ttlSeconds(o.TTL)
	}
	if err != nil {
		return 0, t.invalid(opIncr, err)
	}
	resp, err := t.invoke(ctx, opIncr, PartitionHash(hashKey, sortKey), &pb.ClientRequest{
		Op: &pb.ClientRequest_Incr{Incr: &pb.IncrRequest{HashKey: hashKey, SortKey: sortKey, Increment: delta, ExpireSeconds: expire}},
	})
	if err != nil {
		return 0, err
	}
	return resp.GetIncr().GetNewValue(), nil
}

// invalid reports an argument rejected before anything was sent.
func (t *Table) invalid(op opKind, err error) error {
	return &opError{op: op.name, table: t.name, err: err}
}

// checkHashKey enforces the hash key length limit. Single-record operations
// accept an empty hash key (the record is then placed by its sort key);
// operations over the records of one hash key do not, because records with
// an empty hash key are spread over every partition.
func checkHashKey(hashKey []byte, allowEmpty bool) error {
	switch {
	case len(hashKey) > MaxHashKeyLen:
		return fmt.Errorf("%w: hash key of %d bytes exceeds %d", ErrInvalidArgument, len(hashKey), MaxHashKeyLen)
	case len(hashKey) == 0 && !allowEmpty:
		return fmt.Errorf("%w: empty hash key", ErrInvalidArgument)
	}
	return nil
}

// ttlSeconds converts a TTL to the wire's whole seconds, rounding up so that
// a short positive TTL still expires rather than meaning "never".
func ttlSeconds(ttl time.Duration) (int32, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("%w: negative TTL %v", ErrInvalidArgument, ttl)
	}
	secs := ttl / time.Second
	if ttl%time.Second != 0 {
		secs++
	}
	if secs > math.MaxInt32 {
		return 0, fmt.Errorf("%w: TTL %v exceeds %d seconds", ErrInvalidArgument, ttl, math.MaxInt32)
	}
	return int32(secs), nil
}
