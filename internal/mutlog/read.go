package mutlog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Replay calls fn with the effective record of every decree >= from, in
// strictly increasing decree order: for each decree the record that survived
// every later reconfiguration (see index.go). This is the sequence a restarted
// replica applies on top of storage that is durable through from-1. Decrees
// the log does not hold are skipped, so a caller that needs a gapless
// sequence checks the decrees it is given.
//
// Replay reads the log as it was when the call began; records appended
// meanwhile are not included. rec.Data is valid only until fn returns. If fn
// returns an error, Replay stops and returns it.
func (l *Log) Replay(from int64, fn func(Record) error) error {
	entries, segs, err := l.snapshot(from, math.MaxInt64, false)
	if err != nil {
		return err
	}
	defer releaseAll(segs)
	return readEntries(entries, segs, fn)
}

// Read returns the effective records with from <= decree <= to, in
// increasing decree order, for serving a learner. It stops before the
// payload bytes returned would exceed maxBytes, but returns at least one
// record; maxBytes <= 0 means no limit. If from is below FirstDecree it
// returns ErrCompacted: the learner must be served from a checkpoint.
func (l *Log) Read(from, to int64, maxBytes int) ([]Record, error) {
	entries, segs, err := l.snapshot(from, to, true)
	if err != nil {
		return nil, err
	}
	defer releaseAll(segs)
	var (
		recs  []Record
		total int
	)
	err = readEntries(entries, segs, func(rec Record) error {
		if maxBytes > 0 && len(recs) > 0 && total+len(rec.Data) > maxBytes {
			return errReadFull
		}
		total += len(rec.Data)
		rec.Data = slices.Clone(rec.Data)
		recs = append(recs, rec)
		return nil
	})
	if err != nil && !errors.Is(err, errReadFull) {
		return nil, err
	}
	return recs, nil
}

// errReadFull stops Read's walk once maxBytes is reached.
var errReadFull = errors.New("mutlog: read limit reached")

// snapshot copies the index entries for decrees in [from, to] and takes a
// reference on every segment, so that GC cannot close them underneath.
func (l *Log) snapshot(from, to int64, learner bool) ([]indexEntry, []*segment, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return nil, nil, ErrClosed
	}
	if first := l.index.first(); learner && first > 0 && from < first {
		return nil, nil, fmt.Errorf("%w: decree %d requested, log starts at %d", ErrCompacted, from, first)
	}
	segs := slices.Clone(l.segments)
	for _, s := range segs {
		s.ref()
	}
	return l.index.between(from, to), segs, nil
}

func releaseAll(segs []*segment) {
	for _, s := range segs {
		// Closing a read-only handle cannot lose data; a failure here has
		// nothing to tell the reader.
		_ = s.unref()
	}
}

// readEntries reads the records of entries and calls fn for each. Entries
// that sit back to back in one segment are read with one call, up to
// readChunk bytes at a time. segs are consecutive segments covering every
// entry.
func readEntries(entries []indexEntry, segs []*segment, fn func(Record) error) error {
	var buf []byte
	for i := 0; i < len(entries); {
		first := entries[i]
		k := int(first.seq - segs[0].seq)
		if first.seq < segs[0].seq || k >= len(segs) || segs[k].seq != first.seq {
			return fmt.Errorf("mutlog: decree %d indexed in segment %d, which the log no longer holds", first.decree, first.seq)
		}
		s := segs[k]
		start, end := int64(first.off), int64(first.off)+int64(first.size)
		j := i + 1
		for ; j < len(entries); j++ {
			e := entries[j]
			if e.seq != first.seq || int64(e.off) != end || end+int64(e.size)-start > readChunk {
				break
			}
			end += int64(e.size)
		}
		if int64(cap(buf)) < end-start {
			buf = make([]byte, end-start)
		}
		buf = buf[:end-start]
		if n, err := s.file.ReadAt(buf, start); n < len(buf) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("mutlog: read %s at %d: %w", s.path, start, err)
		}
		for _, e := range entries[i:j] {
			frame := buf[int64(e.off)-start:][:e.size]
			rec, _, n, err := decodeFrame(frame)
			if err == nil && (n != int(e.size) || rec.Decree != e.decree || rec.Ballot != e.ballot) {
				err = fmt.Errorf("record (%d, %d) of %d bytes found where (%d, %d) of %d bytes was indexed",
					rec.Decree, rec.Ballot, n, e.decree, e.ballot, e.size)
			}
			if err != nil {
				// The bytes were intact when they were indexed.
				return fmt.Errorf("%w: %s at offset %d: %v", ErrCorrupt, s.path, e.off, err)
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}
