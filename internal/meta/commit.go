package meta

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// change is one configuration change on its way to the store: the new
// configuration and the cached one (with its revision) it was computed
// from.
type change struct {
	proposal decide.Proposal
	base     decide.PartitionConfig
	rev      int64
	next     decide.PartitionConfig
}

// changeResult is what became of a change.
type changeResult struct {
	change
	// Err is nil when the store took the change; a *ConflictError when the
	// partition had moved on; anything else when the write failed.
	Err error
	// Stored is what the store holds afterwards when known: next, or the
	// conflicting configuration.
	Stored decide.PartitionConfig
}

// prepareLocked turns proposals into changes against the cache: liveness
// check (decide.Apply does not check it), then decide's validity rules.
// Proposals that fail are returned as results with their error.
func (c *Controller) prepareLocked(props []decide.Proposal) ([]change, []changeResult) {
	var (
		out    []change
		failed []changeResult
	)
	for _, p := range props {
		cur, rev, ok := c.cache.config(p.Gpid)
		if !ok {
			failed = append(failed, changeResult{change: change{proposal: p}, Err: fmt.Errorf("%w: %s", ErrUnknownPartition, p.Gpid)})
			continue
		}
		if err := decide.CheckAlive(p, c.fd.Alive); err != nil {
			failed = append(failed, changeResult{change: change{proposal: p, base: cur}, Err: err, Stored: cur})
			continue
		}
		next, err := decide.ApplyProposal(cur, p)
		if err != nil {
			failed = append(failed, changeResult{change: change{proposal: p, base: cur}, Err: err, Stored: cur})
			continue
		}
		c.noteCommittedLocked(&next)
		out = append(out, change{proposal: p, base: cur, rev: rev, next: next})
	}
	return out, failed
}

// noteCommittedLocked records the primary's reported commit point in a
// configuration about to be written, as Pegasus does on every update: a
// meta server then knows how far each partition got.
func (c *Controller) noteCommittedLocked(next *decide.PartitionConfig) {
	if next.Primary == "" {
		return
	}
	if r, ok := c.fd.Report(next.Primary, next.Gpid); ok && r.LastCommittedDecree > next.LastCommittedDecree {
		next.LastCommittedDecree = r.LastCommittedDecree
	}
}

// commit writes changes to the term's store, at most WriteParallelism at
// a time, then applies the outcome to the cache and pushes what was
// written. A write refused by the fence ends the term at once.
//
// Writes run under the term's context, not the caller's: a client that
// gives up does not cut a batch of changes in half, while the end of the
// term stops them.
func (c *Controller) commit(t *term, changes []change) []changeResult {
	ctx, cancel := t.writeCtx()
	defer cancel()
	results := make([]changeResult, len(changes))
	revs := make([]int64, len(changes))
	sem := make(chan struct{}, c.cfg.WriteParallelism)
	var wg sync.WaitGroup
	for i := range changes {
		results[i].change = changes[i]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			revs[i], results[i].Err = t.store.UpdatePartition(ctx, changes[i].rev, changes[i].next)
		})
	}
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.term == t
	lost := false
	for i := range results {
		r := &results[i]
		var ce *ConflictError
		switch {
		case r.Err == nil:
			r.Stored = r.next
			c.countReconfiguration(r.proposal)
			if current && c.cache.set(r.next, revs[i]) {
				c.pushChangeLocked(r.base, r.next)
			}
			c.log.Info("configuration changed", "gpid", r.next.Gpid.String(), "ballot", r.next.Ballot,
				"config", r.next.String(), "change", r.proposal.String())
		case errors.As(r.Err, &ce):
			r.Stored = ce.Current
			if current && ce.Exists {
				c.cache.set(ce.Current, ce.Rev)
			}
			c.log.Debug("configuration change lost a race", "gpid", r.next.Gpid.String(), "change", r.proposal.String(), "err", r.Err)
		case errors.Is(r.Err, ErrLostLeadership):
			lost = true
		case ctx.Err() != nil:
			c.log.Debug("configuration change not written: term over", "gpid", r.next.Gpid.String(), "err", r.Err)
		default:
			c.log.Warn("configuration change not written", "gpid", r.next.Gpid.String(), "change", r.proposal.String(), "err", r.Err)
		}
	}
	if lost && current {
		c.log.Warn("store fence refused a write: another meta server leads", "term", t.id)
		t.cancel()
	}
	return results
}
