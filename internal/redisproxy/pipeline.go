package redisproxy

import (
	"context"
	"slices"
	"sync"
)

// runPipeline executes a batch of pipelined commands from one connection and
// appends their replies to out, in the order of the commands. closeAfter
// reports that the connection must be closed once the replies are written:
// the batch held a QUIT, or shutdown began before every command had started.
//
// Redis runs one connection's commands one after the other, and clients
// rely on two consequences: replies come back in order, and a command sees
// the effects of the commands sent before it on the same connection. The
// first only constrains how replies are assembled. The second matters only
// between commands that touch a common key: commands on disjoint keys
// commute, so running them at the same time is indistinguishable from
// running them in order. runPipeline therefore starts up to
// Config.PipelineConcurrency commands at once, but a command waits for the
// previous command of the batch that shares a key with it. With the store's
// round trip dominating a command's cost, a batch of N commands on distinct
// keys then takes about one round trip instead of N.
//
// A connection that has not authenticated yet runs its batch one command at
// a time: an AUTH changes what the commands after it may do.
func (s *Server) runPipeline(ctx context.Context, st *connState, batch []request, out []byte) ([]byte, bool) {
	// Nothing after a QUIT runs: Redis closes the connection right after
	// replying to it.
	closeAfter := false
	for i, cmd := range batch {
		if c, ok := lookup(cmd.Args[0]); ok && c.name == "quit" {
			batch, closeAfter = batch[:i+1], true
			break
		}
	}
	if len(batch) == 1 || s.cfg.PipelineConcurrency == 1 || !st.authed {
		for _, cmd := range batch {
			if s.isClosing() {
				return out, true
			}
			out = s.execute(ctx, st, cmd.Args, out)
		}
		return out, closeAfter
	}
	return s.runConcurrently(ctx, st, batch, out, closeAfter)
}

// runConcurrently is runPipeline for a batch of several commands with
// concurrency allowed.
func (s *Server) runConcurrently(ctx context.Context, st *connState, batch []request, out []byte, closeAfter bool) ([]byte, bool) {
	deps := keyDependencies(batch)
	replies := make([][]byte, len(batch))
	skipped := make([]bool, len(batch))
	done := make([]chan struct{}, len(batch))
	for i := range done {
		done[i] = make(chan struct{})
	}
	// Slots are taken in batch order and a command only ever waits for
	// earlier ones, so the earliest unfinished command always has its
	// dependencies done and a slot: the batch cannot deadlock.
	slots := make(chan struct{}, s.cfg.PipelineConcurrency)
	var wg sync.WaitGroup
	for i := range batch {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() {
				close(done[i])
				<-slots
			}()
			for _, j := range deps[i] {
				<-done[j]
			}
			if s.isClosing() {
				skipped[i] = true
				return
			}
			replies[i] = s.execute(ctx, st, batch[i].Args, nil)
		})
	}
	wg.Wait()
	// Replies go out up to the first command that never ran. Anything
	// after it may have run, but its reply cannot be delivered in order,
	// so the connection closes and the client treats those commands as
	// failed with an unknown outcome, as after any dropped connection.
	for i, r := range replies {
		if skipped[i] {
			return out, true
		}
		out = append(out, r...)
	}
	return out, closeAfter
}

// keyDependencies returns, for each command of batch, the earlier commands
// it must wait for: for each of its keys, the last earlier command that
// named that key. Waiting for those is enough, since they waited for their
// own predecessors. Commands that take no keys (PING, INFO) or that will be
// refused (unknown, wrong arity) have no dependencies.
func keyDependencies(batch []request) [][]int {
	deps := make([][]int, len(batch))
	lastUse := make(map[string]int)
	for i, cmd := range batch {
		c, ok := lookup(cmd.Args[0])
		if !ok || !c.arityOK(len(cmd.Args)) {
			continue
		}
		for _, key := range c.keys(cmd.Args) {
			j, seen := lastUse[string(key)]
			lastUse[string(key)] = i
			if seen && j != i && !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}
