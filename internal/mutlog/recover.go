package mutlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// RecoveryInfo describes what Open found in the log directory.
type RecoveryInfo struct {
	// Segments and Records count what was read, superseded records
	// included.
	Segments int
	Records  int
	// TornSegment is the path of the last segment when a crash had left an
	// incomplete batch at its end, "" otherwise. Open cut the segment at
	// TornOffset, dropping TornBytes bytes; if TornOffset is 0 the segment
	// had no intact header and Open removed it.
	TornSegment string
	TornOffset  int64
	TornBytes   int64
	// TornReason says what was wrong at TornOffset.
	TornReason string
	// ZeroTailBytes counts the zeros Open cut off the end of the last
	// segment after its last intact frame: preallocated space the log had
	// not written into yet (see Options.PreallocateBytes), which holds no
	// data. Such a cut is not a torn write and leaves the Torn fields
	// empty; when a torn batch is cut, TornBytes includes any zeros after
	// it.
	ZeroTailBytes int64
}

// recover reads every segment in log order into the index. Every segment
// but the last was synced in full, and cut to its last frame, before the
// next was created, so any damage in it is corruption. The last one may end
// in unused zeros or in a torn batch, which are cut off; see tail below.
func (l *Log) recover() error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("mutlog: list %s: %w", l.dir, err)
	}
	var seqs []uint64
	for _, name := range names {
		if strings.HasPrefix(name, segmentPrefix) && strings.HasSuffix(name, tmpSuffix) {
			// A repair interrupted before its rename; the original is intact.
			if err := l.fs.Remove(l.fs.PathJoin(l.dir, name)); err != nil {
				return fmt.Errorf("mutlog: remove %s: %w", name, err)
			}
			continue
		}
		if seq, ok := parseSegmentName(name); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		// GC removes only a prefix of the log, so a hole means a segment
		// was lost.
		if i > 0 && seq != seqs[i-1]+1 {
			return fmt.Errorf("%w: %s: segment %s is missing", ErrCorrupt, l.dir, segmentName(seqs[i-1]+1))
		}
		if err := l.recoverSegment(seq, i == len(seqs)-1); err != nil {
			return err
		}
		l.recovery.Segments++
		l.maxSeq = seq
	}
	return nil
}

// recoverSegment reads segment seq into the index and adds it to the log.
func (l *Log) recoverSegment(seq uint64, last bool) error {
	path := l.fs.PathJoin(l.dir, segmentName(seq))
	f, err := l.fs.Open(path)
	if err != nil {
		return fmt.Errorf("mutlog: open %s: %w", path, err)
	}
	s := newSegment(seq, path, f)
	s.sealed = true
	keep := false
	defer func() {
		if !keep {
			_ = s.unref()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("mutlog: stat %s: %w", path, err)
	}
	r := &segmentReader{file: f, size: st.Size()}

	h, err := r.at(0, segmentHeaderLen)
	if err != nil {
		return err
	}
	if herr := checkSegmentHeader(h, seq); herr != nil {
		if !last {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, herr)
		}
		return l.tail(s, r, 0, herr)
	}
	off := int64(segmentHeaderLen)
	prevBatch := int64(-1)
	for off < r.size {
		rec, batchOff, n, ferr, err := readFrame(r, off)
		if err != nil {
			return err
		}
		// Batches are contiguous: a frame continues its predecessor's
		// batch or starts a new one where it stands.
		if ferr == nil && batchOff != prevBatch && batchOff != off {
			ferr = fmt.Errorf("frame claims its batch starts at %d", batchOff)
		}
		if ferr != nil {
			if !last {
				return fmt.Errorf("%w: %s at offset %d: %v", ErrCorrupt, path, off, ferr)
			}
			return l.tail(s, r, off, ferr)
		}
		s.noteRecord(rec.Decree)
		l.index.apply(indexEntry{
			decree: rec.Decree, ballot: rec.Ballot,
			seq: seq, off: uint32(off), size: uint32(n),
		})
		l.recovery.Records++
		prevBatch = batchOff
		off += int64(n)
	}
	keep = true
	l.segments = append(l.segments, s)
	return nil
}

// readFrame decodes the frame at off. ferr reports a damaged frame, err an
// I/O failure.
func readFrame(r *segmentReader, off int64) (rec Record, batchOff int64, n int, ferr, err error) {
	b, err := r.at(off, framePrefixLen)
	if err != nil {
		return Record{}, 0, 0, nil, err
	}
	if len(b) == framePrefixLen {
		if bodyLen, ok := frameBodyLen(b); ok {
			if b, err = r.at(off, framePrefixLen+bodyLen); err != nil {
				return Record{}, 0, 0, nil, err
			}
		}
	}
	rec, batchOff, n, ferr = decodeFrame(b)
	return rec, batchOff, n, ferr, nil
}

// tail handles damage at offset bad of the last segment s: unused zeros or a
// torn write to cut off, or corruption to refuse.
//
// The writer extends the active segment with zeros, syncs them, and only
// then writes batches over them. A remainder that is all zeros is therefore
// the unused part of that space, possibly with the unwritten pages of an
// unacknowledged batch: a clean end, cut off without a copy where the file
// system allows (see cutZeroTail).
//
// The writer fsyncs each batch before it writes the next, and the header
// before the first batch. A crash can therefore only tear the batch that was
// being written, which no one was told is durable; within it the disk may
// have kept any subset of the pages, so intact frames of that batch may
// follow the damage. A frame of a later batch, though, was written after the
// damaged bytes were synced: finding one means acknowledged data was damaged
// after the fact, and the log is corrupt.
func (l *Log) tail(s *segment, r *segmentReader, bad int64, cause error) error {
	// No frame can start inside the zeros that end the file: a frame's
	// length is never zero.
	zeros, err := zeroRunStart(r, bad)
	if err != nil {
		return err
	}
	if zeros == bad && bad > 0 {
		return l.cutZeroTail(s, r, bad)
	}
	later, found, err := findLaterBatch(r, bad, zeros)
	if err != nil {
		return err
	}
	if found {
		return fmt.Errorf("%w: %s at offset %d: %v; an intact record of a later batch follows at offset %d",
			ErrCorrupt, s.path, bad, cause, later)
	}
	l.recovery.TornSegment = s.path
	l.recovery.TornOffset = bad
	l.recovery.TornBytes = r.size - bad
	l.recovery.TornReason = cause.Error()
	if bad == 0 {
		// Torn before its header was synced: it never held a record.
		l.opts.Logf("mutlog: %s: removing segment with a torn header (%d bytes): %v", s.path, r.size, cause)
		if err := l.fs.Remove(s.path); err != nil {
			return fmt.Errorf("mutlog: remove %s: %w", s.path, err)
		}
		return syncDir(l.fs, l.dir)
	}
	l.opts.Logf("mutlog: %s: cutting torn tail at offset %d (%d bytes): %v", s.path, bad, r.size-bad, cause)
	return l.cutTail(s, bad)
}

// cutZeroTail cuts the zeros from offset at to the end of the last segment
// s. They hold nothing, so cutting them loses nothing whether or not the
// cut survives a crash; it is made durable before Open starts a new
// segment, so that only the last segment can hold zeros.
func (l *Log) cutZeroTail(s *segment, r *segmentReader, at int64) error {
	l.recovery.ZeroTailBytes = r.size - at
	l.opts.Logf("mutlog: %s: cutting %d bytes of unused preallocated zeros at offset %d", s.path, r.size-at, at)
	return l.cutTail(s, at)
}

// cutTail shortens the last segment s to at bytes, durably, in place where
// the file system allows (a crash before the sync leaves the tail, which
// the next Open cuts again), and keeps it in the log. No copy: a restart
// after a crash costs the same whatever the segment's size.
func (l *Log) cutTail(s *segment, at int64) error {
	f, err := l.fs.OpenReadWrite(s.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("mutlog: open %s for writing: %w", s.path, err)
	}
	err = l.cut(s, f, at, true)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("mutlog: close %s: %w", s.path, cerr)
	}
	if err != nil {
		return err
	}
	// A new read handle: on the copy fallback (rewrite) s.file still reads
	// the replaced file. recoverSegment's deferred unref closes the old one.
	f, err = l.fs.Open(s.path)
	if err != nil {
		return fmt.Errorf("mutlog: open %s: %w", s.path, err)
	}
	kept := newSegment(s.seq, s.path, f)
	kept.sealed, kept.records, kept.minDecree, kept.maxDecree = true, s.records, s.minDecree, s.maxDecree
	l.segments = append(l.segments, kept)
	return nil
}

// zeroRunStart returns where the run of zero bytes that ends the file
// begins, or from if the run reaches back that far. It reads backwards from
// the end, so it reads no more than the bytes after from, and on a torn
// batch stops at its last non-zero byte.
func zeroRunStart(r *segmentReader, from int64) (int64, error) {
	for end := r.size; end > from; {
		start := max(from, end-readChunk)
		b, err := r.at(start, int(end-start))
		if err != nil {
			return 0, err
		}
		if int64(len(b)) < end-start {
			return 0, fmt.Errorf("mutlog: read %d bytes at %d: %w", end-start, start, io.ErrUnexpectedEOF)
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != 0 {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return from, nil
}

// findLaterBatch looks for an intact frame starting in (bad, limit) whose
// batch starts after bad. It tries every byte offset, since the damage hides
// where the next frame begins; the batch-offset test rejects nearly every
// wrong position before any checksum is computed.
func findLaterBatch(r *segmentReader, bad, limit int64) (int64, bool, error) {
	for p := bad + 1; p < limit && p+frameHeaderLen <= r.size; p++ {
		h, err := r.at(p, frameHeaderLen)
		if err != nil {
			return 0, false, err
		}
		bodyLen, ok := frameBodyLen(h)
		if !ok || p+framePrefixLen+int64(bodyLen) > r.size {
			continue
		}
		if batchOff := int64(binary.LittleEndian.Uint64(h[8:16])); batchOff <= bad || batchOff > p {
			continue
		}
		f, err := r.at(p, framePrefixLen+bodyLen)
		if err != nil {
			return 0, false, err
		}
		if _, _, _, ferr := decodeFrame(f); ferr == nil {
			return p, true, nil
		}
	}
	return 0, false, nil
}

// truncater is implemented by files that can be cut in place: vfs.Default's,
// through the *os.File they embed. vfs.File itself has no such method.
type truncater interface {
	Truncate(size int64) error
}

// cut shortens segment s to size bytes and, if sync, makes that durable
// together with the bytes it keeps. f is a handle to s open for writing. A
// file that can be truncated in place is, then fsynced (the size is
// metadata); a crash in between leaves it at either size. Other files
// (vfs.MemFS, wrappers that hide Truncate) are rewritten instead, which
// copies the prefix.
func (l *Log) cut(s *segment, f vfs.File, size int64, sync bool) error {
	t, ok := f.(truncater)
	if !ok {
		return l.rewrite(s, size)
	}
	if err := t.Truncate(size); err != nil {
		return fmt.Errorf("mutlog: truncate %s to %d: %w", s.path, size, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("mutlog: sync %s: %w", s.path, err)
		}
	}
	return nil
}

// rewrite cuts segment s to its first size bytes by copying them to a
// temporary file that atomically replaces the segment; a crash in between
// leaves the original, and the temporary is removed by the next Open. It
// works on any vfs.FS: cut falls back to it where files cannot be
// truncated in place.
func (l *Log) rewrite(s *segment, size int64) error {
	tmp := s.path + tmpSuffix
	dst, err := createFile(l.fs, tmp)
	if err != nil {
		return err
	}
	err = copyPrefix(dst, s, size)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mutlog: rewrite %s: %w", tmp, err)
	}
	if err := l.fs.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("mutlog: rename %s: %w", tmp, err)
	}
	return syncDir(l.fs, l.dir)
}

func copyPrefix(dst io.Writer, s *segment, size int64) error {
	buf := make([]byte, min(size, readChunk))
	for off := int64(0); off < size; {
		chunk := buf[:min(int64(len(buf)), size-off)]
		n, err := s.file.ReadAt(chunk, off)
		if n < len(chunk) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		// Write may scribble on its argument (vfs.File allows it); chunk
		// is refilled before the next use.
		if _, err := dst.Write(chunk); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}
