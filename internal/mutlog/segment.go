package mutlog

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Segment header layout (little endian), see doc.go:
//
//	0   [8]byte  magic "PGMUTLOG"
//	8   u32      format version
//	12  u32      reserved, zero
//	16  u64      segment sequence number, equal to the one in the file name
//	24  u32      reserved, zero
//	28  u32      CRC32C over bytes [0,28)
const (
	segmentMagic     = "PGMUTLOG"
	segmentVersion   = 1
	segmentHeaderLen = 32

	segmentPrefix = "log."
	segmentSuffix = ".plog"
	tmpSuffix     = ".tmp"
	lockFileName  = "LOCK"
)

// segmentName names segment seq so that names sort in log order.
func segmentName(seq uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, seq, segmentSuffix)
}

// parseSegmentName is the inverse of segmentName.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, segmentSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

func encodeSegmentHeader(seq uint64) []byte {
	h := make([]byte, segmentHeaderLen)
	copy(h[0:8], segmentMagic)
	binary.LittleEndian.PutUint32(h[8:12], segmentVersion)
	binary.LittleEndian.PutUint64(h[16:24], seq)
	binary.LittleEndian.PutUint32(h[28:32], crc32c(h[0:28]))
	return h
}

// checkSegmentHeader verifies that h is the header of segment seq.
func checkSegmentHeader(h []byte, seq uint64) error {
	if len(h) < segmentHeaderLen {
		return fmt.Errorf("header truncated at %d bytes", len(h))
	}
	if got, want := crc32c(h[0:28]), binary.LittleEndian.Uint32(h[28:32]); got != want {
		return fmt.Errorf("header checksum mismatch: computed %08x, stored %08x", got, want)
	}
	if string(h[0:8]) != segmentMagic {
		return fmt.Errorf("bad magic %q", h[0:8])
	}
	if v := binary.LittleEndian.Uint32(h[8:12]); v != segmentVersion {
		return fmt.Errorf("unsupported format version %d", v)
	}
	if s := binary.LittleEndian.Uint64(h[16:24]); s != seq {
		// A file renamed or copied from elsewhere would otherwise slot
		// into the wrong place in the log order.
		return fmt.Errorf("header names segment %d", s)
	}
	return nil
}

// segment is one file of the log. Its read handle is shared by every reader
// and closed when the last reference goes: GC may unlink a segment while a
// Replay or Read is still reading it.
type segment struct {
	seq  uint64
	path string
	file vfs.File
	refs atomic.Int32

	// Protected by Log.mu. They describe the records that are durable and
	// indexed, not bytes the writer has written but not yet synced.
	records   int
	minDecree int64
	maxDecree int64
	// sealed: the writer has moved on to a later segment and every record
	// of this one is indexed. Only sealed segments may be garbage collected.
	sealed bool
}

func newSegment(seq uint64, path string, file vfs.File) *segment {
	s := &segment{seq: seq, path: path, file: file}
	s.refs.Store(1)
	return s
}

// noteRecord widens the segment's decree range to cover decree.
func (s *segment) noteRecord(decree int64) {
	if s.records == 0 || decree < s.minDecree {
		s.minDecree = decree
	}
	if s.records == 0 || decree > s.maxDecree {
		s.maxDecree = decree
	}
	s.records++
}

func (s *segment) ref() { s.refs.Add(1) }

func (s *segment) unref() error {
	switch n := s.refs.Add(-1); {
	case n == 0:
		return s.file.Close()
	case n < 0:
		panic(fmt.Sprintf("mutlog: segment %s unreferenced %d times too often", s.path, -n))
	}
	return nil
}

// readChunk is how much a sequential scan reads at a time.
const readChunk = 1 << 20

// segmentReader serves byte ranges of one segment file through a buffer, so
// that a sequential scan issues one read per readChunk, not one per frame.
type segmentReader struct {
	file vfs.File
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
}

// at returns the n bytes at offset off, or fewer when the file ends first.
// The slice is valid until the next call.
func (r *segmentReader) at(off int64, n int) ([]byte, error) {
	if off >= r.off && off+int64(n) <= r.off+int64(len(r.buf)) {
		return r.buf[off-r.off:][:n], nil
	}
	if off >= r.size {
		return nil, nil
	}
	want := int64(max(n, readChunk))
	want = min(want, r.size-off)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.file.ReadAt(r.buf, off)
	if err != nil && (err != io.EOF || int64(got) < want) {
		r.buf = r.buf[:0]
		return nil, fmt.Errorf("mutlog: read %d bytes at %d: %w", want, off, err)
	}
	r.off = off
	return r.buf[:min(int64(n), want)], nil
}
