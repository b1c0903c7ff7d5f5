package mutlog

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults for Options.
const (
	// DefaultSegmentSize is Pegasus' log_private_file_size_mb.
	DefaultSegmentSize = 32 << 20
	// DefaultMaxRecordBytes bounds one record's payload.
	DefaultMaxRecordBytes = 16 << 20
	// DefaultMaxBatchBytes bounds the bytes one group commit writes before it
	// syncs, so that one huge queue cannot delay the first waiter for long.
	DefaultMaxBatchBytes = 4 << 20
	// DefaultPreallocateBytes is how far ahead of the writer the active
	// segment is extended with zeros at a time.
	DefaultPreallocateBytes = 1 << 20
	// NoPreallocate as Options.PreallocateBytes turns zero-filling off:
	// every group commit then appends to the file and grows it.
	NoPreallocate = -1

	maxSegmentSize = 1 << 30
)

// Options configure a Log. The zero value is valid and uses the defaults.
type Options struct {
	// SegmentSize bounds a segment file: a record that would take the
	// active segment past it starts a new one. Only a segment holding a
	// single larger record exceeds it.
	SegmentSize int64
	// MaxRecordBytes bounds the payload of one record.
	MaxRecordBytes int
	// MaxBatchBytes bounds the bytes written by one group commit.
	MaxBatchBytes int
	// PreallocateBytes is the least the writer extends the active segment
	// by, with zeros, whenever a group commit would end past the zeroed
	// space (never further than SegmentSize, unless a record needs it).
	// Group commits then overwrite zeros that are already durable, so
	// their fdatasync does not also have to journal a new file size,
	// which roughly halves its cost. 0 means DefaultPreallocateBytes;
	// NoPreallocate turns it off. doc.go states where zeros may remain.
	PreallocateBytes int64
	// NoSync skips every fsync of record data. For benchmarks only: with it
	// an acknowledged append survives a process crash but not a machine
	// crash, and recovery after a machine crash may report ErrCorrupt.
	NoSync bool
	// Logf receives notable events: torn tails cut off, segments removed.
	// Nil discards them.
	Logf func(format string, args ...any)
	// OnSync, if set, receives the duration of every successful fsync of
	// record data (group commits and the sync that seals a full segment).
	// It runs on the log's writer goroutine, so it must be quick: every
	// append waits behind it.
	OnSync func(d time.Duration)
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.PreallocateBytes == 0 {
		o.PreallocateBytes = DefaultPreallocateBytes
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	switch {
	case o.SegmentSize < segmentHeaderLen+frameHeaderLen || o.SegmentSize > maxSegmentSize:
		return o, fmt.Errorf("%w: SegmentSize %d outside [%d, %d]", ErrInvalidOptions,
			o.SegmentSize, segmentHeaderLen+frameHeaderLen, maxSegmentSize)
	case o.MaxRecordBytes < 0 || o.MaxRecordBytes > maxPayloadLen:
		return o, fmt.Errorf("%w: MaxRecordBytes %d outside [0, %d]", ErrInvalidOptions,
			o.MaxRecordBytes, maxPayloadLen)
	case o.MaxBatchBytes < 0:
		return o, fmt.Errorf("%w: MaxBatchBytes %d is negative", ErrInvalidOptions, o.MaxBatchBytes)
	case o.PreallocateBytes < NoPreallocate || o.PreallocateBytes > maxSegmentSize:
		return o, fmt.Errorf("%w: PreallocateBytes %d outside [%d, %d]", ErrInvalidOptions,
			o.PreallocateBytes, NoPreallocate, maxSegmentSize)
	}
	return o, nil
}

// Stats counts the log's work since Open.
type Stats struct {
	// Appends, Records and Bytes count what was made durable.
	Appends uint64
	Records uint64
	Bytes   uint64
	// Batches counts group commits: each is one write and, unless NoSync,
	// one fsync, however many appends it carried.
	Batches uint64
	// Preallocations counts extensions of the active segment with zeros
	// (see Options.PreallocateBytes), each one write and one fsync.
	Preallocations uint64
	// Segments is the number of segment files the log holds now.
	Segments int
}

// Log is the mutation log of one partition replica. All methods are safe for
// concurrent use.
type Log struct {
	fs       vfs.FS
	dir      string
	opts     Options
	lock     io.Closer
	recovery RecoveryInfo

	mu      sync.Mutex
	work    sync.Cond // signalled when queue grows or closing is set
	queue   []*Pending
	closing bool
	// failed is sticky: once a write or sync failed, nothing more is
	// written and every append returns it.
	failed   error
	segments []*segment // log order; the last one is the active segment
	index    index
	stats    Stats

	w          writer
	writerDone chan struct{}
	// maxSeq is the highest segment sequence number Open found, including
	// a torn segment it removed.
	maxSeq uint64
}

// Open opens the log in dir, creating dir if needed, and recovers what it
// holds (see doc.go for what recovery keeps and what it refuses). New
// records go to a fresh segment.
func Open(fs vfs.FS, dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mutlog: create %s: %w", dir, err)
	}
	// The directory entry itself must survive a crash, or every segment
	// inside it would vanish with it.
	if err := syncDir(fs, fs.PathDir(dir)); err != nil {
		return nil, err
	}
	lock, err := fs.Lock(fs.PathJoin(dir, lockFileName))
	if err != nil {
		return nil, fmt.Errorf("mutlog: lock %s: %w", dir, err)
	}
	l := &Log{fs: fs, dir: dir, opts: opts, lock: lock, writerDone: make(chan struct{})}
	l.work.L = &l.mu
	if err := l.recover(); err != nil {
		_ = l.releaseSegments()
		_ = lock.Close()
		return nil, err
	}
	if err := l.startSegment(l.nextSeq()); err != nil {
		_ = l.releaseSegments()
		_ = lock.Close()
		return nil, err
	}
	go l.runWriter()
	return l, nil
}

// Recovery reports what Open found and repaired.
func (l *Log) Recovery() RecoveryInfo { return l.recovery }

// Dir returns the directory the log lives in.
func (l *Log) Dir() string { return l.dir }

// FirstDecree returns the lowest decree the log can serve, or 0 when it
// holds no record.
func (l *Log) FirstDecree() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.index.first()
}

// LastDecree returns the highest durable decree in the log, or 0 when it
// holds no record. After a reconfiguration superseded the tail it may be
// lower than it was before.
func (l *Log) LastDecree() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.index.last()
}

// Stats returns counters of the log's work.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Segments = len(l.segments)
	return s
}

// Close commits every append queued before it, stops the writer, cuts the
// unused zeros off the active segment and releases the log's files. It
// returns the log's failure, if it failed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closing = true
	l.work.Broadcast()
	l.mu.Unlock()
	<-l.writerDone

	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.failed
	if l.w.file != nil {
		// After a failure nothing more is written; the next Open cuts the
		// zeros instead.
		if err == nil {
			err = l.seal()
		}
		if cerr := l.w.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("mutlog: close %s: %w", l.w.seg.path, cerr)
		}
		l.w.file = nil
	}
	if rerr := l.releaseSegments(); err == nil {
		err = rerr
	}
	if lerr := l.lock.Close(); err == nil && lerr != nil {
		err = fmt.Errorf("mutlog: unlock %s: %w", l.dir, lerr)
	}
	return err
}

// releaseSegments drops the log's reference to every segment.
func (l *Log) releaseSegments() error {
	var err error
	for _, s := range l.segments {
		if uerr := s.unref(); err == nil && uerr != nil {
			err = fmt.Errorf("mutlog: close %s: %w", s.path, uerr)
		}
	}
	l.segments = nil
	return err
}

// nextSeq returns the sequence number for a new segment.
func (l *Log) nextSeq() uint64 {
	if len(l.segments) == 0 {
		return 1 + l.maxSeq
	}
	return l.segments[len(l.segments)-1].seq + 1
}

// syncDir makes creations, renames and removals in dir durable.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("mutlog: open dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mutlog: sync dir %s: %w", dir, err)
	}
	return nil
}

// createFile creates path for writing, replacing any file of that name.
func createFile(fs vfs.FS, path string) (vfs.File, error) {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("mutlog: create %s: %w", path, err)
	}
	return f, nil
}
