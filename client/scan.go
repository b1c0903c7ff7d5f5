package client

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// DefaultScanBatchSize is how many records a scan fetches per round trip
// unless told otherwise.
const DefaultScanBatchSize = 100

// ScanOptions shape a Scan. The zero value (or nil) reads the half-open
// range [start, stop) with values, DefaultScanBatchSize records at a time.
type ScanOptions struct {
	// StartExclusive leaves out the start sort key itself.
	StartExclusive bool
	// StopInclusive includes the stop sort key itself.
	StopInclusive bool
	// BatchSize is the number of records fetched per round trip.
	BatchSize int
	// NoValue returns keys only.
	NoValue bool
}

// FullScanOptions shape a FullScan. The zero value (or nil) reads values,
// DefaultScanBatchSize records at a time.
type FullScanOptions struct {
	BatchSize int
	NoValue   bool
	// OnePartition restricts the scan to partition index Partition, as
	// the shell's full_scan -p and count_data -p do.
	OnePartition bool
	Partition    int
}

// Record is one record returned by a scan.
type Record struct {
	HashKey []byte
	SortKey []byte
	Value   []byte
}

// Scanner iterates over the records of a scan, fetching them from the
// server in batches as it goes:
//
//	sc := table.Scan(ctx, hashKey, nil, nil, nil)
//	for sc.Next() {
//		rec := sc.Record()
//		...
//	}
//	if err := sc.Err(); err != nil {
//		...
//	}
//
// Every batch is one read operation, retried like any other; the scan's
// context bounds the whole scan, and each batch gets the client's operation
// timeout when that context has no deadline. A scan is not a snapshot:
// records written while it runs may or may not be seen. A Scanner is not
// safe for concurrent use.
type Scanner struct {
	t   *Table
	ctx context.Context

	// The request for the next batch; its cursor and (for sort key scans)
	// start bound advance after every batch.
	req  *pb.ScanRequest
	hash uint64

	// Full scans walk partitions in order; partitions is the table's
	// partition count when the scan began.
	full       bool
	partition  int32
	partitions int32

	batch   []*pb.ScanRecord
	pos     int
	current Record
	drained bool // no batch to fetch in the current range or partition
	err     error
}

// Scan returns an iterator over the records of hashKey whose sort keys lie
// between start and stop, in sort key order. An empty start scans from the
// first sort key; an empty stop scans to the last. The client copies the
// keys, so the caller may reuse them at once.
func (t *Table) Scan(ctx context.Context, hashKey, start, stop []byte, opts *ScanOptions) *Scanner {
	var o ScanOptions
	if opts != nil {
		o = *opts
	}
	s := &Scanner{t: t, ctx: ctx}
	batch, err := batchSize(o.BatchSize)
	if err == nil {
		err = checkHashKey(hashKey, false)
	}
	if err != nil {
		s.err = t.invalid(opScan, err)
		return s
	}
	s.hash = PartitionHash(hashKey, nil)
	s.req = &pb.ScanRequest{
		HashKey:        bytes.Clone(hashKey),
		StartSortKey:   bytes.Clone(start),
		StopSortKey:    bytes.Clone(stop),
		StartInclusive: !o.StartExclusive,
		StopInclusive:  o.StopInclusive,
		BatchSize:      batch,
		NoValue:        o.NoValue,
	}
	return s
}

// FullScan returns an iterator over every record of the table, partition by
// partition; within a partition records come in key order, across
// partitions in no useful order.
func (t *Table) FullScan(ctx context.Context, opts *FullScanOptions) *Scanner {
	var o FullScanOptions
	if opts != nil {
		o = *opts
	}
	s := &Scanner{t: t, ctx: ctx, full: true}
	batch, err := batchSize(o.BatchSize)
	if err != nil {
		s.err = t.invalid(opScan, err)
		return s
	}
	s.partitions = int32(len(t.routes.snapshot().parts))
	if o.OnePartition {
		if o.Partition < 0 || o.Partition >= int(s.partitions) {
			s.err = t.invalid(opScan, fmt.Errorf("%w: partition %d of a table of %d partitions", ErrInvalidArgument, o.Partition, s.partitions))
			return s
		}
		s.partition, s.partitions = int32(o.Partition), int32(o.Partition)+1
	}
	s.req = &pb.ScanRequest{Full: true, BatchSize: batch, NoValue: o.NoValue}
	return s
}

// Next advances to the next record, fetching a batch when needed. It
// returns false at the end of the scan or on an error; Err tells which.
func (s *Scanner) Next() bool {
	for s.err == nil {
		if s.pos < len(s.batch) {
			r := s.batch[s.pos]
			s.batch[s.pos] = nil
			s.pos++
			s.current = Record{HashKey: r.GetHashKey(), SortKey: r.GetSortKey(), Value: r.GetValue()}
			if !s.full && len(s.current.HashKey) == 0 {
				s.current.HashKey = bytes.Clone(s.req.HashKey)
			}
			return true
		}
		if s.drained {
			if !s.full || s.partition+1 >= s.partitions {
				return false
			}
			s.partition++
			s.req.Cursor = nil
			s.drained = false
		}
		s.fetch()
	}
	return false
}

// Record returns the record Next moved to.
func (s *Scanner) Record() Record { return s.current }

// Err returns the error that ended the scan, or nil if it ran to the end.
func (s *Scanner) Err() error { return s.err }

// fetch reads the next batch of the current range or partition.
func (s *Scanner) fetch() {
	hash := s.hash
	if s.full {
		// A full scan addresses a partition, not a key: any hash that
		// routes to the partition will do, and its index is one.
		hash = uint64(s.partition)
	}
	prev := s.req.Cursor
	resp, err := s.t.invoke(s.ctx, opScan, hash, &pb.ClientRequest{Op: &pb.ClientRequest_Scan{Scan: s.req}})
	if err != nil {
		s.err = err
		return
	}
	r := resp.GetScan()
	s.batch, s.pos = r.GetRecords(), 0
	cursor := r.GetCursor()
	switch {
	case len(cursor) == 0:
		s.drained = true
	case len(s.batch) == 0 && bytes.Equal(cursor, prev):
		s.err = &opError{op: opScan.name, table: s.t.name, err: &Error{
			Code:    pb.ErrorCode_ERR_INVALID_DATA.String(),
			Message: "scan cursor did not advance",
			kind:    ErrInternal,
		}}
		return
	}
	// Every attempt of invoke encoded the request before returning, so it
	// can be edited in place for the next batch.
	s.req.Cursor = cursor
	if !s.full && len(s.batch) > 0 {
		// The cursor is the server's to interpret; moving the start bound
		// past the last record as well keeps the range right even for a
		// server that only honours bounds.
		s.req.StartSortKey = s.batch[len(s.batch)-1].GetSortKey()
		s.req.StartInclusive = false
	}
}

func batchSize(n int) (int32, error) {
	switch {
	case n == 0:
		return DefaultScanBatchSize, nil
	case n < 0 || n > math.MaxInt32:
		return 0, fmt.Errorf("%w: scan batch size %d", ErrInvalidArgument, n)
	}
	return int32(n), nil
}
