package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Request records: what makes a retried write exactly-once across restarts,
// failovers and checkpoint installs.
//
// A client write carries a RequestID that stays the same across its retries.
// When Apply applies a mutation with one, it writes a request record in the
// same batch as the ops and the applied decree:
//
//	key   = 0xFF 0xFF "req/" [client id: u64 big-endian][seq: u64 big-endian]
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
// Records live under the metadata prefix, so scans and the expiry sweep of
// records never see them. They are collected by DropExpiredRequests once the
// apply clock has passed their apply time by the retention the replica server
// is configured with (write_dedup_retention_seconds, at least the longest
// window a client retries one write in). Like DropExpired, that deletion is
// local and unlogged: it only removes records no retry may still ask about.

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
	requestKeySize  = 4 + 16 // len(requestKeyPrefix) + the id
	requestRecordV1 = 1
	// requestRecordHeader is version, decree and apply time.
	requestRecordHeader = 1 + 8 + 4
)

func appendRequestKey(dst []byte, id RequestID) []byte {
	dst = append(dst, requestKeyPrefix...)
	dst = binary.BigEndian.AppendUint64(dst, id.ClientID)
	return binary.BigEndian.AppendUint64(dst, id.Seq)
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
// it and has not collected its record. Reads may run beside Apply: a record
// appears with the batch that applied its request.
func (s *Store) AppliedRequest(id RequestID) (AppliedRequest, bool, error) {
	if id.IsZero() {
		return AppliedRequest{}, false, nil
	}
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return AppliedRequest{}, false, ErrClosed
	}
	var key [requestKeySize]byte
	v, closer, err := s.db.Get(appendRequestKey(key[:0], id))
	if errors.Is(err, pebble.ErrNotFound) {
		return AppliedRequest{}, false, nil
	}
	if err != nil {
		return AppliedRequest{}, false, fmt.Errorf("storage: read request record: %w", err)
	}
	defer closer.Close()
	a, err := decodeRequestRecord(v)
	if err != nil {
		return AppliedRequest{}, false, fmt.Errorf("%w (client %#x seq %d)", err, id.ClientID, id.Seq)
	}
	return a, true, nil
}

// DropExpiredRequests visits up to maxKeys request records after where the
// previous call stopped and deletes those whose apply time the apply clock
// has passed by more than retentionSeconds. Like DropExpired it blocks
// writers while it runs, so maxKeys bounds the pause; SweepStats.Wrapped
// reports the end of a pass over every record.
//
// The horizon is the apply clock, not the local clock, for the reasons
// DropExpired gives (sweep.go): every replica reaches the same clock at the
// same decree, and a checkpoint's clock covers the collection it contains.
// A record is therefore kept until mutations stamped at least
// retentionSeconds after it were applied.
func (s *Store) DropExpiredRequests(maxKeys int, retentionSeconds uint32) (SweepStats, error) {
	var stats SweepStats
	if maxKeys <= 0 {
		return stats, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return stats, ErrClosed
	}
	horizon := uint64(s.applyClock.Load())

	lower := requestKeyPrefix
	if s.requestCursor != nil {
		lower = append(append([]byte(nil), s.requestCursor...), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: requestKeysEnd})
	if err != nil {
		return stats, fmt.Errorf("storage: request sweep: new iterator: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()

	valid := it.First()
	for ; valid && stats.Scanned < maxKeys; valid = it.Next() {
		raw, err := it.ValueAndErr()
		if err != nil {
			return stats, fmt.Errorf("storage: request sweep: read value: %w", err)
		}
		if len(raw) < requestRecordHeader || raw[0] != requestRecordV1 {
			return stats, fmt.Errorf("%w: request record %x of %d bytes", ErrCorrupt, it.Key(), len(raw))
		}
		stats.Scanned++
		if applied := uint64(binary.BigEndian.Uint32(raw[9:])); applied+uint64(retentionSeconds) < horizon {
			if err := b.Delete(it.Key(), nil); err != nil {
				return stats, fmt.Errorf("storage: request sweep: %w", err)
			}
			stats.Dropped++
		}
		s.requestCursor = append(s.requestCursor[:0], it.Key()...)
	}
	if err := it.Error(); err != nil {
		return stats, fmt.Errorf("storage: request sweep: iterate: %w", err)
	}
	if !valid {
		stats.Wrapped = true
		s.requestCursor = nil
	}
	if stats.Dropped > 0 {
		if err := b.Commit(pebble.NoSync); err != nil {
			return stats, fmt.Errorf("storage: request sweep: commit: %w", err)
		}
	}
	return stats, nil
}
