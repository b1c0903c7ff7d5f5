package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// Learning from a checkpoint (the core's LearnApp, Pegasus LT_APP).
//
// The learner's driver calls ReplicaPeer.FetchCheckpoint on the primary. The
// primary takes a storage checkpoint (hard links, cheap), streams it as a
// header chunk carrying the decree and then every file in chunks, in order,
// each file ending with last_of_file, and deletes it. A stream that ends
// cleanly has delivered every file. The learner writes the files into a
// temporary directory beside its store, syncs them, and hands the copy to its
// partition goroutine, which offers it to the core (InstallCheckpoint) and,
// if the core still wants it, swaps it in:
//
//  1. close the log and delete it: the core's log now restarts after the
//     checkpoint's decree;
//  2. close the store and install the copy in its place (storage's
//     crash-safe rename sequence);
//  3. reopen both.
//
// The log goes first because a crash between the steps must leave a state
// the replica can restart from. Old store and empty log is such a state (a
// learner is not a member: what it loses nobody counted on). A new store
// with the old log is not: the old log's entries past the checkpoint decree
// may be leftovers that contradict the history the checkpoint holds.

// checkpointChunkBytes is the data carried by one chunk.
const checkpointChunkBytes = 1 << 20

// Copy attempts and their pacing. A failed copy is retried while the core
// still waits for it; after the last attempt the primary's learner timeout
// ends the session and the meta server starts another.
const (
	checkpointAttempts     = 5
	checkpointRetryBackoff = 500 * time.Millisecond
	checkpointCopyTimeout  = 10 * time.Minute
)

// serveCheckpoint serves ReplicaPeer.FetchCheckpoint: it streams a checkpoint
// of the partition's store to a learner.
func (s *Server) serveCheckpoint(req *pb.CheckpointRequest, stream pb.ReplicaPeer_FetchCheckpointServer) error {
	g, err := gpidFromPB(req.GetGpid())
	if err != nil {
		return stream.Send(&pb.CheckpointChunk{Error: wireError(err)})
	}
	p := s.partition(g)
	if p == nil {
		return stream.Send(&pb.CheckpointChunk{Error: wireError(errorf(ErrNotHosted, "%s", g))})
	}
	var idp *security.Identity
	if id, ok := security.PeerIdentity(stream.Context()); ok {
		idp = &id
	}
	if err := s.checkpointMayGo(p, req.GetLearner(), idp); err != nil {
		s.guardLog.log(s, "checkpoint", err)
		return stream.Send(&pb.CheckpointChunk{Error: wireError(err)})
	}
	dir, decree, err := p.checkpoint()
	if err != nil {
		p.log.Warn("checkpoint for a learner failed", "learner", req.GetLearner(), "err", err)
		return stream.Send(&pb.CheckpointChunk{Error: wireError(errorf(ErrCheckpoint, "%v", err))})
	}
	defer func() {
		if err := s.fs.RemoveAll(dir); err != nil {
			p.log.Warn("removing a sent checkpoint failed", "dir", dir, "err", err)
		}
	}()
	p.log.Info("sending a checkpoint", "learner", req.GetLearner(), "decree", decree)
	if err := sendCheckpoint(s.fs, dir, decree, stream); err != nil {
		return err
	}
	p.stats.ckptServed.Add(1)
	return nil
}

// checkpoint takes a checkpoint of the store into a new directory inside the
// replica's and returns it with the decree it holds.
func (p *partition) checkpoint() (string, int64, error) {
	p.diskMu.RLock()
	defer p.diskMu.RUnlock()
	if p.ctx.Err() != nil {
		return "", 0, ErrClosed
	}
	dir := p.srv.fs.PathJoin(p.dir, checkpointDirPref+strconv.FormatUint(p.srv.tempSeq.Add(1), 10))
	decree, err := p.store.Load().Checkpoint(dir)
	if err != nil {
		_ = p.srv.fs.RemoveAll(dir)
		return "", 0, err
	}
	return dir, decree, nil
}

func sendCheckpoint(fs vfs.FS, dir string, decree int64, stream pb.ReplicaPeer_FetchCheckpointServer) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("replica: list checkpoint: %w", err)
	}
	slices.Sort(names)
	if err := stream.Send(&pb.CheckpointChunk{Decree: decree}); err != nil {
		return err
	}
	buf := make([]byte, checkpointChunkBytes)
	for _, name := range names {
		if err := sendFile(fs, fs.PathJoin(dir, name), name, decree, buf, stream); err != nil {
			return err
		}
	}
	return nil
}

func sendFile(fs vfs.FS, path, name string, decree int64, buf []byte, stream pb.ReplicaPeer_FetchCheckpointServer) error {
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("replica: open checkpoint file %s: %w", name, err)
	}
	defer f.Close()
	var off int64
	for {
		n, rerr := io.ReadFull(f, buf)
		last := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !last {
			return fmt.Errorf("replica: read checkpoint file %s: %w", name, rerr)
		}
		chunk := &pb.CheckpointChunk{Decree: decree, File: name, Offset: off, Data: buf[:n], LastOfFile: last}
		if err := stream.Send(chunk); err != nil {
			return err
		}
		off += int64(n)
		if last {
			return nil
		}
	}
}

// fetchCheckpoint copies the checkpoint a CheckpointRequest asks for and
// hands it to the partition goroutine, retrying a failed copy a few times.
func (p *partition) fetchCheckpoint(req pacifica.CheckpointRequest) {
	fs := p.srv.fs
	for attempt := 1; attempt <= checkpointAttempts && p.ctx.Err() == nil; attempt++ {
		dir := fs.PathJoin(p.dir, learnDirPrefix+strconv.FormatUint(p.srv.tempSeq.Add(1), 10))
		decree, err := p.srv.copyCheckpoint(p.ctx, p.g, req, dir)
		if err == nil {
			if perr := p.post(event{kind: evCheckpoint, ckpt: &fetchedCheckpoint{req: req, decree: decree, dir: dir}}); perr != nil {
				_ = fs.RemoveAll(dir)
			}
			return
		}
		_ = fs.RemoveAll(dir)
		p.log.Warn("checkpoint copy failed", "from", req.From, "attempt", attempt, "err", err)
		select {
		case <-p.ctx.Done():
		case <-time.After(checkpointRetryBackoff * time.Duration(attempt)):
		}
	}
}

// copyCheckpoint receives a checkpoint of partition g from req.From into dir.
func (s *Server) copyCheckpoint(ctx context.Context, g gpid, req pacifica.CheckpointRequest, dir string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, checkpointCopyTimeout)
	defer cancel()
	conn, err := s.peers.conn(req.From)
	if err != nil {
		return 0, errorf(ErrCheckpoint, "%v", err)
	}
	stream, err := pb.NewReplicaPeerClient(conn).FetchCheckpoint(rpc.WithClusterID(ctx, s.clusterID()), &pb.CheckpointRequest{
		Gpid:      g.pb(),
		Learner:   string(s.node),
		Ballot:    int64(req.Ballot),
		Signature: req.LearnID,
	})
	if err != nil {
		return 0, errorf(ErrCheckpoint, "%v", err)
	}
	if err := s.fs.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	r := checkpointReceiver{fs: s.fs, dir: dir, decree: -1}
	defer r.abort()
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return r.finish()
		}
		if err != nil {
			return 0, errorf(ErrCheckpoint, "%v", err)
		}
		if err := r.take(chunk); err != nil {
			return 0, err
		}
		s.countLearnBytes(len(chunk.GetData()))
	}
}

// checkpointReceiver writes a checkpoint stream into a directory, checking
// that it is well formed: a header first, files whose chunks follow each
// other, names that stay inside the directory.
type checkpointReceiver struct {
	fs     vfs.FS
	dir    string
	decree int64 // -1 until the header
	file   vfs.File
	name   string
	off    int64
	seen   map[string]bool
}

func (r *checkpointReceiver) take(c *pb.CheckpointChunk) error {
	if e := c.GetError(); e != nil && e.GetCode() != pb.ErrorCode_ERR_OK {
		return errorf(ErrCheckpoint, "source: %s %s", e.GetCode(), e.GetMessage())
	}
	if r.decree < 0 {
		if c.GetFile() != "" || c.GetDecree() < 0 {
			return errorf(ErrCheckpoint, "stream does not start with a header")
		}
		r.decree = c.GetDecree()
		r.seen = make(map[string]bool)
		return nil
	}
	if c.GetDecree() != r.decree {
		return errorf(ErrCheckpoint, "chunk of decree %d in a checkpoint of %d", c.GetDecree(), r.decree)
	}
	if r.file == nil {
		name := c.GetFile()
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || r.seen[name] {
			return errorf(ErrCheckpoint, "bad file name %q", name)
		}
		f, err := r.fs.Create(r.fs.PathJoin(r.dir, name), vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("replica: receive checkpoint: %w", err)
		}
		r.file, r.name, r.off = f, name, 0
		r.seen[name] = true
	}
	if c.GetFile() != r.name || c.GetOffset() != r.off {
		return errorf(ErrCheckpoint, "chunk %s@%d while writing %s@%d", c.GetFile(), c.GetOffset(), r.name, r.off)
	}
	if _, err := r.file.Write(c.GetData()); err != nil {
		return fmt.Errorf("replica: receive checkpoint: %w", err)
	}
	r.off += int64(len(c.GetData()))
	if c.GetLastOfFile() {
		err := errors.Join(r.file.Sync(), r.file.Close())
		r.file = nil
		if err != nil {
			return fmt.Errorf("replica: receive checkpoint: %w", err)
		}
	}
	return nil
}

// finish checks the stream ended between files and makes the copy durable.
func (r *checkpointReceiver) finish() (int64, error) {
	if r.decree < 0 || r.file != nil {
		return 0, errorf(ErrCheckpoint, "stream ended inside a file or before its header")
	}
	if err := syncDir(r.fs, r.dir); err != nil {
		return 0, fmt.Errorf("replica: receive checkpoint: %w", err)
	}
	return r.decree, nil
}

func (r *checkpointReceiver) abort() {
	if r.file != nil {
		_ = r.file.Close()
		r.file = nil
	}
}

// install offers a copied checkpoint to the core and, if it is still wanted,
// makes it the replica's state. It runs on the partition goroutine with no
// Ready outstanding. It returns false if the core asks to wait for one
// (drive installs only between Readies, so only a bug gets there); the copy
// then stays queued.
func (p *partition) install(c *fetchedCheckpoint) bool {
	err := p.core.InstallCheckpoint(c.req, pacifica.Decree(c.decree))
	if errors.Is(err, pacifica.ErrReadyOutstanding) {
		return false
	}
	if errors.Is(err, pacifica.ErrCheckpointNotWanted) {
		p.log.Info("discarding a checkpoint no longer wanted", "decree", c.decree, "err", err)
		_ = p.srv.fs.RemoveAll(c.dir)
		return true
	}
	if err != nil {
		_ = p.srv.fs.RemoveAll(c.dir)
		p.fail(err)
		return true
	}
	if err := p.replaceState(c); err != nil {
		p.fail(err)
		return true
	}
	p.stats.ckptInstalled.Add(1)
	p.log.Info("checkpoint installed", "decree", c.decree, "from", c.req.From)
	return true
}

// replaceState swaps the log and store for the checkpoint (order explained
// at the top of this file).
func (p *partition) replaceState(c *fetchedCheckpoint) error {
	p.diskMu.Lock()
	defer p.diskMu.Unlock()
	fs := p.srv.fs
	logDir := fs.PathJoin(p.dir, logDirName)
	storeDir := fs.PathJoin(p.dir, storeDirName)
	if err := p.plog.Close(); err != nil && !errors.Is(err, mutlog.ErrLogFailed) {
		return err
	}
	if err := fs.RemoveAll(logDir); err != nil {
		return fmt.Errorf("replica: remove log: %w", err)
	}
	if err := syncDir(fs, p.dir); err != nil {
		return fmt.Errorf("replica: remove log: %w", err)
	}
	if err := p.store.Load().Close(); err != nil {
		return err
	}
	if err := storage.InstallCheckpoint(fs, storeDir, c.dir); err != nil {
		return err
	}
	store, err := storage.Open(storeDir, p.srv.storeOptions())
	if err != nil {
		return err
	}
	p.store.Store(store)
	if got := store.LastAppliedDecree(); got != c.decree {
		return errorf(ErrCheckpoint, "installed store holds decree %d, checkpoint said %d", got, c.decree)
	}
	plog, err := mutlog.Open(fs, logDir, p.srv.logOptions(p.g))
	if err != nil {
		return err
	}
	p.plog = plog
	return nil
}
