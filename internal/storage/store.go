package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Default limits of Options.
const (
	DefaultMaxSortKeySize = 64 << 10
	DefaultMaxValueSize   = 1 << 20
)

// formatVersion is the Pebble on-disk format of new stores. It is pinned
// rather than pebble.FormatNewest so that upgrading the library never
// ratchets the format of existing stores by itself: a binary rolled back
// during an upgrade must still open the stores the newer one wrote.
const formatVersion = pebble.FormatTableFormatV6

// Options configure a Store. The zero value is usable.
type Options struct {
	// FS is the filesystem holding the store; nil means vfs.Default. Tests
	// use vfs.NewMem or an error-injecting wrapper.
	FS vfs.FS

	// EnableWAL turns on Pebble's write-ahead log, and syncs it on every
	// Apply. Replicated partitions leave it off: their mutation log already
	// holds every applied write, and a second log would double the write
	// cost for nothing.
	EnableWAL bool

	// Clock is the wall clock of reads; nil means time.Now. Reads never run
	// it behind the apply clock (see Store.Apply).
	Clock func() time.Time

	// MaxSortKeySize and MaxValueSize bound what Validate accepts; zero
	// means DefaultMaxSortKeySize and DefaultMaxValueSize.
	MaxSortKeySize int
	MaxValueSize   int

	// Cache is a block cache to share between the stores of one server; nil
	// gives the store a private cache of Pebble's default size. The caller
	// keeps its reference and releases it after closing the stores.
	Cache *pebble.Cache

	// MemTableSize is the size of one memtable; zero means Pebble's default.
	MemTableSize uint64

	// RequestRetentionSeconds is how long request records are kept, timed
	// by the apply clock (requests.go); zero means
	// DefaultRequestRetentionSeconds.
	RequestRetentionSeconds int
	// RequestBucketSeconds groups request records by apply time for
	// collection; zero means DefaultRequestBucketSeconds. Lookups assume
	// every record was written with the same width: production keeps the
	// default; tests of expiry shorten it.
	RequestBucketSeconds int

	// Logger receives Pebble's log messages. nil sends errors to the
	// standard logger and drops informational messages, which Pebble writes
	// on every open: a server opens thousands of partition stores.
	Logger pebble.Logger
}

// errorsOnlyLogger is the default Logger: Pebble's errors, not its chatter.
type errorsOnlyLogger struct{}

func (errorsOnlyLogger) Infof(string, ...any) { /* dropped */ }
func (errorsOnlyLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (errorsOnlyLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxSortKeySize == 0 {
		o.MaxSortKeySize = DefaultMaxSortKeySize
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.Logger == nil {
		o.Logger = errorsOnlyLogger{}
	}
	if o.RequestRetentionSeconds <= 0 {
		o.RequestRetentionSeconds = DefaultRequestRetentionSeconds
	}
	if o.RequestBucketSeconds <= 0 {
		o.RequestBucketSeconds = DefaultRequestBucketSeconds
	}
	return o
}

// Store is the data of one partition replica: a Pebble database in its own
// directory. Reads may run concurrently with each other and with writes;
// writes (Apply, DropExpired) are serialized internally.
type Store struct {
	dir  string
	opts Options
	db   *pebble.DB

	// writeOpts syncs Apply's batches when the WAL is on.
	writeOpts *pebble.WriteOptions

	// writeMu serializes every writer: Apply, DropExpired and the locked part
	// of Checkpoint. Apply's read-modify-write ops and the sweep's
	// check-then-delete are correct only with no other writer in between.
	// Lock order: writeMu before lifecycle.
	writeMu sync.Mutex
	// keyBuf and valBuf are Apply's scratch space; sweepCursor is where the
	// next DropExpired resumes (nil: at the start). All guarded by writeMu.
	keyBuf, valBuf []byte
	sweepCursor    []byte
	// requestFloor is the bucket below which DropExpiredRequests deleted
	// every request record (0: nothing yet since Open). Guarded by writeMu.
	requestFloor uint64

	// lifecycle keeps db alive under every operation: they hold it shared,
	// Close holds it exclusively.
	lifecycle sync.RWMutex
	closed    bool

	// lastApplied and applyClock mirror the applied state stored in the
	// database; they change only under writeMu, after the batch that stores
	// them has committed. durable is the highest decree known to be on disk.
	lastApplied atomic.Int64
	applyClock  atomic.Uint32
	durable     atomic.Int64
}

// Open opens the store in dir, creating it if needed. It first finishes or
// rolls back a checkpoint installation that a crash interrupted.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := recoverInstall(opts.FS, dir); err != nil {
		return nil, err
	}
	popts := &pebble.Options{
		FS:                 opts.FS,
		DisableWAL:         !opts.EnableWAL,
		Cache:              opts.Cache,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: formatVersion,
		Logger:             opts.Logger,
	}
	// Point reads (get, exist, ttl, check_and_set, incr) far outnumber
	// scans; a bloom filter spares them the sstables that cannot hold the key.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, openError(dir, err)
	}
	decree, clock, err := readAppliedState(db)
	if err != nil {
		return nil, errors.Join(openError(dir, err), db.Close())
	}
	s := &Store{dir: dir, opts: opts, db: db, writeOpts: pebble.NoSync}
	if opts.EnableWAL {
		s.writeOpts = pebble.Sync
	}
	s.lastApplied.Store(decree)
	s.applyClock.Store(clock)
	// Whatever Open found is on disk: with the WAL off only flushed data
	// survives, with it on the WAL replay is itself durable.
	s.durable.Store(decree)
	return s, nil
}

// openError wraps a failure to open the store at dir. Damage to the files
// wraps ErrCorrupt, so that the replica is rebuilt rather than opened again
// and again: a checksum or format failure (pebble.ErrCorruption), bad
// metadata of this package, and Pebble's consistency check of the sstables
// against the MANIFEST, which carries no sentinel and is recognised by its
// message. Anything else (permissions, I/O errors, a lock still held) may
// pass and is returned as it is.
func openError(dir string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	if errors.Is(err, pebble.ErrCorruption) || strings.Contains(err.Error(), "object size mismatch") {
		return fmt.Errorf("storage: open %s: %w: %w", dir, ErrCorrupt, err)
	}
	return fmt.Errorf("storage: open %s: %w", dir, err)
}

// Close flushes the memtables, so that a restart need not replay what the
// store had applied, and closes the store. Operations after Close fail with
// ErrClosed.
func (s *Store) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	flushErr := s.db.Flush()
	if flushErr != nil {
		flushErr = fmt.Errorf("storage: flush on close: %w", flushErr)
	}
	return errors.Join(flushErr, s.db.Close())
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// LastAppliedDecree is the decree of the last Apply. Right after Open it is
// the decree the store held on disk, from which the replica replays its log.
func (s *Store) LastAppliedDecree() int64 { return s.lastApplied.Load() }

// DurableDecree is the highest decree known to survive a crash: the one Open
// found or the last that Flush or Checkpoint wrote out. Pebble flushes full
// memtables on its own too, so the store on disk may be ahead of it; the
// mutation log may be truncated up to it, never beyond.
func (s *Store) DurableDecree() int64 { return s.durable.Load() }

// ApplyClock is the store's apply clock in Pegasus seconds: the largest time
// carried by an applied mutation.
func (s *Store) ApplyClock() uint32 { return s.applyClock.Load() }

// Flush writes the memtables to sstables and returns the decree now durable.
func (s *Store) Flush() (int64, error) {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	// Every batch up to decree committed before lastApplied was advanced, so
	// it sits in a memtable that the flush below writes out.
	decree := s.lastApplied.Load()
	if err := s.db.Flush(); err != nil {
		return s.durable.Load(), fmt.Errorf("storage: flush: %w", err)
	}
	s.advanceDurable(decree)
	return s.durable.Load(), nil
}

func (s *Store) advanceDurable(decree int64) {
	for {
		cur := s.durable.Load()
		if decree <= cur || s.durable.CompareAndSwap(cur, decree) {
			return
		}
	}
}

// Validate checks ops against the store's size limits and the rules of
// ValidateOp. A primary validates before it logs a mutation; Apply does not
// re-check configured limits, which may differ between replicas.
func (s *Store) Validate(ops []WriteOp) error {
	lim := SizeLimits{MaxSortKeySize: s.opts.MaxSortKeySize, MaxValueSize: s.opts.MaxValueSize}
	for i, op := range ops {
		if err := ValidateOp(op, lim); err != nil {
			return fmt.Errorf("op %d (%s): %w", i, describeOp(op), err)
		}
	}
	return nil
}

func describeOp(op WriteOp) string {
	if op == nil {
		return "nil"
	}
	return op.Kind().String()
}

// appliedStateKey holds the applied state, in the metadata keyspace.
var appliedStateKey = append(append([]byte(nil), metaKeyPrefix...), "applied_state"...)

// appliedStateV1 is the version byte of the applied state value:
// [version][decree int64 big-endian][apply clock u32 big-endian].
const (
	appliedStateV1   = 1
	appliedStateSize = 1 + 8 + 4
)

func encodeAppliedState(dst []byte, decree int64, clock uint32) []byte {
	dst = append(dst, appliedStateV1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(decree))
	return binary.BigEndian.AppendUint32(dst, clock)
}

// readAppliedState returns the stored applied decree and apply clock; a new
// store has applied decree 0 at time 0.
func readAppliedState(db *pebble.DB) (decree int64, clock uint32, err error) {
	v, closer, err := db.Get(appliedStateKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("storage: read applied state: %w", err)
	}
	defer closer.Close()
	if len(v) != appliedStateSize || v[0] != appliedStateV1 {
		return 0, 0, fmt.Errorf("%w: applied state of %d bytes, version %d", ErrCorrupt, len(v), firstByte(v))
	}
	decree = int64(binary.BigEndian.Uint64(v[1:]))
	if decree < 0 {
		return 0, 0, fmt.Errorf("%w: negative applied decree %d", ErrCorrupt, decree)
	}
	return decree, binary.BigEndian.Uint32(v[9:]), nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
