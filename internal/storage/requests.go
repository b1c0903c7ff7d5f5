package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Request records: what makes a retried write exactly-once across restarts,
// failovers and checkpoint installs.
//
// A client write carries a RequestID that stays the same across its retries.
// When Apply applies a mutation with one, it writes a request record in the
// same batch as the ops and the applied decree:
//
//	key   = 0xFF 0xFF "req/" [bucket: u32 BE][client id: u64 BE][seq: u64 BE]
//	value = [version 1][decree: u64 BE][apply time: u32 BE][op count: uvarint]
//	        then per op: [kind][flags] and the fields the flags announce
//
// (see appendOpResult). The record holds the request's per-op results, so a
// retry is answered with the original outcome (an incr's new value, a
// check_and_set's verdict and check value) instead of being executed again.
// Because it is written in the batch that advances the applied decree, the
// store holds a request's record exactly when it holds its effects: a crash
// keeps both or neither, and a checkpoint carries both, so a learner that
// installs one, and a replica that restarts from its flushed state, know every
// request they applied.
//
// The bucket is the mutation's apply time rounded down to a multiple of
// Options.RequestBucketSeconds. The apply clock never runs backwards, so new
// records always land in the newest bucket, and collection is one range
// deletion of the oldest buckets (DropExpiredRequests): no scan, no tombstone
// per record, and Pebble drops sstables a deleted range covers whole. A
// lookup does not know the bucket of the original, so it reads the id in
// every bucket that can hold a record within the retention; a retention of
// minutes spans a handful, and only retries are looked up.
//
// Records live under the metadata prefix, so scans and the expiry sweep of
// records never see them. They are collected once the apply clock has passed
// their bucket by Options.RequestRetentionSeconds (the replica server's
// write_dedup_retention_seconds, at least the longest window a client
// retries one write in). Like DropExpired, that deletion is local and
// unlogged: it only removes records no retry may still ask about.

// RequestID identifies a client write across its retries (the replication
// layer's RequestID). The zero value identifies nothing and is never recorded.
type RequestID struct {
	ClientID uint64
	Seq      uint64
}

// IsZero reports whether id is the "no identity" value.
func (id RequestID) IsZero() bool { return id == RequestID{} }

// AppliedRequest is the record of a request the store applied.
type AppliedRequest struct {
	// Decree is the mutation that carried the request.
	Decree int64
	// ApplyTime is the apply clock (Pegasus seconds) the mutation was
	// applied at: the record expires retention seconds after it.
	ApplyTime uint32
	// Results are the ops' results, as Apply returned them.
	Results []OpResult
}

// requestKeyPrefix starts every request record key.
var requestKeyPrefix = append(append([]byte(nil), metaKeyPrefix...), "req/"...)

// requestKeysEnd bounds the request records from above.
var requestKeysEnd = prefixEnd(requestKeyPrefix)

const (
	requestPrefixSize = 2 + len("req/") // len(requestKeyPrefix)
	requestKeySize    = requestPrefixSize + 4 + 16
	requestRecordV1   = 1
	// requestRecordHeader is version, decree and apply time.
	requestRecordHeader = 1 + 8 + 4
	// DefaultRequestBucketSeconds is Options.RequestBucketSeconds' default:
	// records are collected a bucket at a time, so they live up to this
	// much beyond the retention.
	DefaultRequestBucketSeconds = 60
	// DefaultRequestRetentionSeconds is Options.RequestRetentionSeconds'
	// default, write_dedup_retention_seconds' default.
	DefaultRequestRetentionSeconds = 300
)

func appendRequestKey(dst []byte, bucket uint32, id RequestID) []byte {
	dst = append(dst, requestKeyPrefix...)
	dst = binary.BigEndian.AppendUint32(dst, bucket)
	dst = binary.BigEndian.AppendUint64(dst, id.ClientID)
	return binary.BigEndian.AppendUint64(dst, id.Seq)
}

// requestBucket is the bucket of a record applied at applyTime.
func (s *Store) requestBucket(applyTime uint32) uint32 {
	w := uint32(s.opts.RequestBucketSeconds)
	return applyTime - applyTime%w
}

// Flags of one op's result in a request record.
const (
	resultErr                = 1 << iota // [error code][message: uvarint length + bytes]
	resultNewValue                       // [new value: varint]
	resultCheckPassed                    // no field
	resultCheckValueReturned             // no field
	resultCheckValueExist                // [check value: uvarint length + bytes]
)

// opErrors numbers the errors an op result can carry, so that a decoded
// result wraps the same sentinel as the original (the replica maps it to the
// same wire code). The numbers are part of the store format.
var opErrors = []error{
	nil, // 0: an error of no known kind; only its message survives
	ErrIncrNotInteger, ErrIncrOverflow, ErrCheckNotInteger, ErrHashKeyTooLarge, ErrSortKeyTooLarge,
	ErrValueTooLarge, ErrInvalidTTL, ErrEmptyMultiOp, ErrInvalidCheckType, ErrUnknownOp,
}

func opErrorCode(err error) byte {
	for i, e := range opErrors {
		if e != nil && errors.Is(err, e) {
			return byte(i)
		}
	}
	return 0
}

// recordedError is an op error read back from a request record: the
// original message, wrapping the original sentinel.
type recordedError struct {
	msg  string
	kind error
}

func (e *recordedError) Error() string { return e.msg }
func (e *recordedError) Unwrap() error { return e.kind }

func encodeRequestRecord(dst []byte, decree int64, applyTime uint32, results []OpResult) []byte {
	dst = append(dst, requestRecordV1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(decree))
	dst = binary.BigEndian.AppendUint32(dst, applyTime)
	dst = binary.AppendUvarint(dst, uint64(len(results)))
	for i := range results {
		dst = appendOpResult(dst, &results[i])
	}
	return dst
}

// appendOpResult encodes one op's result. A put's is two bytes: its kind and
// no flags.
func appendOpResult(dst []byte, r *OpResult) []byte {
	var flags byte
	if r.Err != nil {
		flags |= resultErr
	}
	if r.NewValue != 0 {
		flags |= resultNewValue
	}
	if r.CheckPassed {
		flags |= resultCheckPassed
	}
	if r.CheckValueReturned {
		flags |= resultCheckValueReturned
	}
	if r.CheckValueExist {
		flags |= resultCheckValueExist
	}
	dst = append(dst, byte(r.Kind), flags)
	if r.Err != nil {
		msg := r.Err.Error()
		dst = append(dst, opErrorCode(r.Err))
		dst = binary.AppendUvarint(dst, uint64(len(msg)))
		dst = append(dst, msg...)
	}
	if r.NewValue != 0 {
		dst = binary.AppendVarint(dst, r.NewValue)
	}
	if r.CheckValueExist {
		dst = binary.AppendUvarint(dst, uint64(len(r.CheckValue)))
		dst = append(dst, r.CheckValue...)
	}
	return dst
}

// decodeRequestRecord is the inverse of encodeRequestRecord. The results own
// their bytes (the input may be Pebble's buffer).
func decodeRequestRecord(v []byte) (AppliedRequest, error) {
	var a AppliedRequest
	corrupt := func(what string) (AppliedRequest, error) {
		return AppliedRequest{}, fmt.Errorf("%w: request record: %s", ErrCorrupt, what)
	}
	if len(v) < requestRecordHeader || v[0] != requestRecordV1 {
		return corrupt(fmt.Sprintf("%d bytes, version %d", len(v), firstByte(v)))
	}
	a.Decree = int64(binary.BigEndian.Uint64(v[1:]))
	a.ApplyTime = binary.BigEndian.Uint32(v[9:])
	d := recordDecoder{b: v[requestRecordHeader:]}
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)/2) {
		return corrupt("op count")
	}
	a.Results = make([]OpResult, n)
	for i := range a.Results {
		r := &a.Results[i]
		r.Kind = OpKind(d.byte())
		flags := d.byte()
		if flags&resultErr != 0 {
			code := d.byte()
			msg := string(d.bytes())
			var kind error
			if int(code) < len(opErrors) {
				kind = opErrors[code]
			}
			r.Err = &recordedError{msg: msg, kind: kind}
		}
		if flags&resultNewValue != 0 {
			r.NewValue = d.varint()
		}
		r.CheckPassed = flags&resultCheckPassed != 0
		r.CheckValueReturned = flags&resultCheckValueReturned != 0
		if flags&resultCheckValueExist != 0 {
			r.CheckValueExist = true
			r.CheckValue = append([]byte{}, d.bytes()...)
		}
	}
	if d.err || len(d.b) != 0 {
		return corrupt("op results")
	}
	return a, nil
}

// recordDecoder reads a request record; err is set once anything is short.
type recordDecoder struct {
	b   []byte
	err bool
}

func (d *recordDecoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// AppliedRequest returns the record of the request id, if the store applied
// it within the retention (the apply clock has not passed its apply time by
// more than Options.RequestRetentionSeconds). A record older than that may
// still be found until it is collected. Reads may run beside Apply: a record
// appears with the batch that applied its request.
//
// The original's bucket is unknown, so the lookup reads the id in each
// bucket a record within the retention can be in, newest first: a point read
// each, which Pebble's bloom filters make cheap for the usual miss (about
// retention/bucket + 2 of them: 7 for the defaults). Seeking through the
// buckets instead costs a seek of every level per bucket.
func (s *Store) AppliedRequest(id RequestID) (AppliedRequest, bool, error) {
	if id.IsZero() {
		return AppliedRequest{}, false, nil
	}
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return AppliedRequest{}, false, ErrClosed
	}
	w := uint32(s.opts.RequestBucketSeconds)
	clock := s.applyClock.Load()
	newest := s.requestBucket(clock)
	oldest := s.requestBucket(clock - min(clock, uint32(s.opts.RequestRetentionSeconds)))
	var key [requestKeySize]byte
	for {
		for b := newest; ; b -= w {
			a, ok, err := s.requestAt(appendRequestKey(key[:0], b, id))
			if err != nil || ok {
				return a, ok, err
			}
			if b <= oldest {
				break
			}
		}
		// An Apply beside this lookup may have opened a newer bucket.
		next := s.requestBucket(s.applyClock.Load())
		if next == newest {
			return AppliedRequest{}, false, nil
		}
		newest, oldest = next, newest+w
	}
}

// requestAt reads and decodes the request record at key, if there is one.
func (s *Store) requestAt(key []byte) (AppliedRequest, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return AppliedRequest{}, false, nil
	}
	if err != nil {
		return AppliedRequest{}, false, fmt.Errorf("storage: read request record: %w", err)
	}
	defer closer.Close()
	a, err := decodeRequestRecord(v)
	if err != nil {
		id := key[len(key)-16:]
		return AppliedRequest{}, false, fmt.Errorf("%w (client %#x seq %d)", err,
			binary.BigEndian.Uint64(id), binary.BigEndian.Uint64(id[8:]))
	}
	return a, true, nil
}

// DropExpiredRequests deletes the request records of every bucket the apply
// clock has passed by more than Options.RequestRetentionSeconds: a bucket
// [b, b+w) goes once b+w+retention <= the apply clock, so a record is kept
// at least the retention and at most a bucket longer. It is one range
// deletion, made only when another bucket expired since the last call and
// holds records; it reports whether it made one.
//
// The horizon is the apply clock, not the local clock, for the reasons
// DropExpired gives (sweep.go): every replica reaches the same clock at the
// same decree, and a checkpoint's clock covers the collection it contains.
func (s *Store) DropExpiredRequests() (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return false, ErrClosed
	}
	w := uint64(s.opts.RequestBucketSeconds)
	retention := uint64(s.opts.RequestRetentionSeconds)
	horizon := uint64(s.applyClock.Load())
	if horizon < retention+w {
		return false, nil
	}
	// Every bucket starting before end has expired.
	end := (horizon-retention-w)/w*w + w
	if end > math.MaxUint32 || end <= s.requestFloor {
		return false, nil
	}
	var upper [requestKeySize]byte
	upperKey := appendRequestKey(upper[:0], uint32(end), RequestID{})
	// A range tombstone over nothing still costs every later read; look
	// first.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: requestKeyPrefix, UpperBound: upperKey})
	if err != nil {
		return false, fmt.Errorf("storage: request sweep: new iterator: %w", err)
	}
	held := it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, fmt.Errorf("storage: request sweep: %w", err)
	}
	if !held {
		s.requestFloor = end
		return false, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(requestKeyPrefix, upperKey, nil); err != nil {
		return false, fmt.Errorf("storage: request sweep: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return false, fmt.Errorf("storage: request sweep: commit: %w", err)
	}
	s.requestFloor = end
	return true, nil
}
