package mutlog

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Group commit.
//
// Appenders encode their records on their own goroutine and queue them. One
// writer goroutine takes everything queued (up to MaxBatchBytes), lays it out
// in one buffer, writes it with one write call and makes it durable with one
// fsync, then indexes the records and completes every waiter of the batch.
// While it waits for the fsync, new appends queue up for the next batch, so
// the number of fsyncs per second stays bounded by the disk's sync latency
// while the batch size grows with the load.
//
// Every frame carries the offset at which its batch starts in the segment
// (see doc.go). Because the writer fsyncs a batch before it writes the next
// one, recovery can tell a batch torn by a crash (never acknowledged) from
// damage to an acknowledged batch: a torn batch is always the last one.
//
// The writer keeps the active segment's file extended with durable zeros
// past the write offset (see extend) and writes each batch over them, so
// that a batch's fdatasync has data to flush but no new file size to
// journal. Before it starts the next segment, and on Close, it cuts the
// zeros off again (see seal).

// Pending is an append in flight.
type Pending struct {
	frames []byte      // encoded records, sealed by the writer
	recs   []frameMeta // one per record, in append order
	done   chan struct{}
	cb     func(error)
	err    error
}

// frameMeta describes one encoded record of a Pending.
type frameMeta struct {
	decree, ballot int64
	size           int
}

// Done returns a channel closed when the append is durable or has failed.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Err returns the outcome of the append once Done is closed: nil when every
// record is durable.
func (p *Pending) Err() error {
	<-p.done
	return p.err
}

// Wait blocks until the append completes or ctx ends. When ctx ends first the
// append stays queued: its records may or may not become durable.
func (p *Pending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pending) finish(err error) {
	p.err = err
	p.frames, p.recs = nil, nil
	if p.done != nil {
		close(p.done)
	}
	if p.cb != nil {
		p.cb(err)
	}
}

// Append queues recs to be written in one group commit and returns at once.
// The records are copied; the caller may reuse them immediately. When the
// Pending completes without error every record is durable, and so is every
// record of every append completed before it.
func (l *Log) Append(recs ...Record) *Pending {
	p := &Pending{done: make(chan struct{})}
	if err := l.enqueue(p, recs); err != nil {
		p.finish(err)
	}
	return p
}

// AppendSync appends recs and waits until they are durable. If ctx ends
// first it returns ctx.Err() and the records may or may not become durable.
func (l *Log) AppendSync(ctx context.Context, recs ...Record) error {
	return l.Append(recs...).Wait(ctx)
}

// AppendAsync appends recs and calls done exactly once with the outcome.
// done runs on the log's writer goroutine, in log order with the other
// completions, so it must not block; an append rejected before it was
// queued calls done from a new goroutine, never from within AppendAsync.
func (l *Log) AppendAsync(recs []Record, done func(error)) {
	p := &Pending{cb: done}
	if err := l.enqueue(p, recs); err != nil {
		go p.finish(err)
	}
}

// enqueue encodes recs into p and queues p for the writer.
func (l *Log) enqueue(p *Pending, recs []Record) error {
	size := 0
	for _, r := range recs {
		if err := validateRecord(r); err != nil {
			return err
		}
		if len(r.Data) > l.opts.MaxRecordBytes {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, len(r.Data), l.opts.MaxRecordBytes)
		}
		size += frameLen(len(r.Data))
	}
	p.frames = make([]byte, 0, size)
	p.recs = make([]frameMeta, len(recs))
	for i, r := range recs {
		p.frames = appendFrame(p.frames, r)
		p.recs[i] = frameMeta{decree: r.Decree, ballot: r.Ballot, size: frameLen(len(r.Data))}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closing:
		return ErrClosed
	case l.failed != nil:
		return l.failed
	}
	if len(recs) == 0 {
		// Nothing to write, and everything acknowledged so far is durable.
		go p.finish(nil)
		return nil
	}
	l.queue = append(l.queue, p)
	l.work.Signal()
	return nil
}

// writer is the state owned by the writer goroutine (and by Open and Close,
// which run when it does not).
type writer struct {
	seg  *segment
	file vfs.File
	size int64 // bytes written to seg, durable or not: where the next frame goes
	// end is the size of seg's file: past size it holds zeros, made durable
	// before any frame was written over them.
	end int64
	buf []byte
	// placed and sealed are per-batch scratch: where each record went and
	// which segments the batch filled.
	placed []indexEntry
	sealed []*segment
	batch  []*Pending
}

func (l *Log) runWriter() {
	defer close(l.writerDone)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closing {
			l.work.Wait()
		}
		if len(l.queue) == 0 {
			l.mu.Unlock()
			return
		}
		l.w.batch = l.takeBatch(l.w.batch[:0])
		l.mu.Unlock()
		l.commit(l.w.batch)
		clear(l.w.batch)
	}
}

// takeBatch moves queued appends into batch, at least one and no more than
// MaxBatchBytes unless the first alone is larger. l.mu must be held.
func (l *Log) takeBatch(batch []*Pending) []*Pending {
	bytes, n := 0, 0
	for _, p := range l.queue {
		if n > 0 && bytes+len(p.frames) > l.opts.MaxBatchBytes {
			break
		}
		bytes += len(p.frames)
		n++
	}
	batch = append(batch, l.queue[:n]...)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	return batch
}

// commit writes, syncs, indexes and completes one batch.
func (l *Log) commit(batch []*Pending) {
	w := &l.w
	w.buf, w.placed, w.sealed = w.buf[:0], w.placed[:0], w.sealed[:0]
	batchStart := w.size
	for _, p := range batch {
		frames := p.frames
		for _, m := range p.recs {
			frame := frames[:m.size]
			frames = frames[m.size:]
			end := w.size + int64(len(w.buf))
			if end > segmentHeaderLen && end+int64(m.size) > l.opts.SegmentSize {
				// The batch part in the full segment must be durable before
				// anything lands in the next one: recovery treats every
				// segment but the last as fully synced (and, see roll,
				// free of zeros).
				if err := l.flush(!l.opts.NoSync); err != nil {
					l.fail(batch, err)
					return
				}
				w.sealed = append(w.sealed, w.seg)
				if err := l.roll(); err != nil {
					l.fail(batch, err)
					return
				}
				batchStart, end = w.size, w.size
			}
			at := len(w.buf)
			w.buf = append(w.buf, frame...)
			sealFrame(w.buf[at:], batchStart)
			w.placed = append(w.placed, indexEntry{
				decree: m.decree, ballot: m.ballot,
				seq: w.seg.seq, off: uint32(end), size: uint32(m.size),
			})
		}
	}
	if err := l.flush(!l.opts.NoSync); err != nil {
		l.fail(batch, err)
		return
	}

	l.mu.Lock()
	// placed is in log order: the records of each filled segment, then
	// those of the active one.
	filled := w.sealed
	for _, e := range w.placed {
		for len(filled) > 0 && filled[0].seq != e.seq {
			filled[0].sealed = true
			filled = filled[1:]
		}
		if len(filled) > 0 {
			filled[0].noteRecord(e.decree)
		} else {
			w.seg.noteRecord(e.decree)
		}
		l.index.apply(e)
	}
	for _, s := range filled {
		s.sealed = true
	}
	l.stats.Appends += uint64(len(batch))
	l.stats.Records += uint64(len(w.placed))
	l.stats.Batches++
	for _, e := range w.placed {
		l.stats.Bytes += uint64(e.size)
	}
	l.mu.Unlock()

	for _, p := range batch {
		p.finish(nil)
	}
}

// flush writes the buffered frames to the active segment and, if sync, makes
// them durable.
func (l *Log) flush(sync bool) error {
	w := &l.w
	if len(w.buf) > 0 {
		if err := l.extend(w.size + int64(len(w.buf))); err != nil {
			return err
		}
		n, err := w.file.WriteAt(w.buf, w.size)
		w.size += int64(n)
		w.end = max(w.end, w.size)
		w.buf = w.buf[:0]
		if err != nil {
			return fmt.Errorf("write %s: %w", w.seg.path, err)
		}
	}
	if sync {
		start := time.Now()
		if err := w.file.SyncData(); err != nil {
			return fmt.Errorf("sync %s: %w", w.seg.path, err)
		}
		if l.opts.OnSync != nil {
			l.opts.OnSync(time.Since(start))
		}
	}
	return nil
}

// zeroBlock is the source of the zeros extend writes. WriteAt does not
// modify its argument (unlike Write, vfs.File makes no such allowance), so
// every log shares it.
var zeroBlock [64 << 10]byte

// zeroAlign rounds the end of the zeroed space up to whole pages.
const zeroAlign = 4 << 10

// extend makes the active segment's file at least need bytes long before
// frames are written up to need. When it is shorter, it writes zeros from
// the file's end to at least PreallocateBytes past it (but not past
// SegmentSize unless need is) and syncs them together with the new size.
// Hence one file-size change, and one full fsync, per PreallocateBytes of
// log. Zeros are written rather than allocated (vfs.File.Preallocate): an
// allocated but unwritten extent is converted on the first write into it,
// which is again metadata for the next fdatasync to journal.
func (l *Log) extend(need int64) error {
	w := &l.w
	if need <= w.end || l.opts.PreallocateBytes == NoPreallocate {
		return nil
	}
	target := max(need, w.end+l.opts.PreallocateBytes)
	target = (target + zeroAlign - 1) / zeroAlign * zeroAlign
	target = min(target, max(l.opts.SegmentSize, need))
	for off := w.end; off < target; {
		chunk := zeroBlock[:min(target-off, int64(len(zeroBlock)))]
		if _, err := w.file.WriteAt(chunk, off); err != nil {
			return fmt.Errorf("write zeros to %s at %d: %w", w.seg.path, off, err)
		}
		off += int64(len(chunk))
	}
	// The new size is file metadata: a full fsync, not fdatasync. Frames
	// are written over the zeros only after it, so that after a crash only
	// zeros, or pages of the batch being written, follow the last durable
	// batch.
	if !l.opts.NoSync {
		if err := w.file.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", w.seg.path, err)
		}
	}
	w.end = target
	l.mu.Lock()
	l.stats.Preallocations++
	l.mu.Unlock()
	return nil
}

// seal cuts the zeros past the active segment's last frame off, and makes
// that durable, so that a segment other than the last never holds zeros.
// The frames themselves must already have been written and synced.
func (l *Log) seal() error {
	w := &l.w
	if w.end == w.size {
		return nil
	}
	if err := l.cut(w.seg, w.file, w.size, !l.opts.NoSync); err != nil {
		return err
	}
	w.end = w.size
	return nil
}

// roll seals the active segment, closes its write handle and starts the
// next segment. Sealing first means that once the next segment exists, the
// previous one ends at its last frame.
func (l *Log) roll() error {
	w := &l.w
	if err := l.seal(); err != nil {
		_ = w.file.Close()
		w.file = nil
		return err
	}
	err := w.file.Close()
	w.file = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", w.seg.path, err)
	}
	return l.startSegment(w.seg.seq + 1)
}

// startSegment creates segment seq, makes its header and its directory entry
// durable, and makes it the active segment. Syncing the header before any
// record is written means a damaged header with records after it is
// corruption, never a torn write.
func (l *Log) startSegment(seq uint64) error {
	path := l.fs.PathJoin(l.dir, segmentName(seq))
	f, err := createFile(l.fs, path)
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeSegmentHeader(seq)); err != nil {
		_ = f.Close()
		return fmt.Errorf("mutlog: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("mutlog: sync %s: %w", path, err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		_ = f.Close()
		return err
	}
	r, err := l.fs.Open(path)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("mutlog: open %s: %w", path, err)
	}
	l.mu.Lock()
	s := newSegment(seq, path, r)
	l.segments = append(l.segments, s)
	l.mu.Unlock()
	l.w.seg, l.w.file, l.w.size, l.w.end = s, f, segmentHeaderLen, segmentHeaderLen
	return nil
}

// fail makes the log fail-stop after a write or sync error: the batch, every
// queued append and every later one complete with the error.
func (l *Log) fail(batch []*Pending, cause error) {
	err := fmt.Errorf("%w: %w", ErrLogFailed, cause)
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	queued := l.queue
	l.queue = nil
	l.mu.Unlock()
	l.opts.Logf("mutlog: %s: %v; refusing further appends", l.dir, cause)
	for _, p := range batch {
		p.finish(err)
	}
	for _, p := range queued {
		p.finish(err)
	}
}
