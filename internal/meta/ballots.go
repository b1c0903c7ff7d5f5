package meta

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Ballots above the record.
//
// Every ballot comes from the meta server, so a replica reporting a ballot
// above the meta's record holds a configuration the meta never issued: a
// forged push (issue 16, finding 1: UpdateConfig with ballot 2^40 and a
// fake primary), or a store restored from an older backup. The meta
// touches nothing such a replica holds on its own (syncNodeLocked), but
// says so loudly: a warning per claim, the gauge
// pegasus_meta_partitions_ballot_above_record, the ballot_above_record
// column of `ls -d`; and meta.repair_ballot writes the recorded
// configuration again at a ballot above every claim, which every member
// then adopts, the forged one included.
//
// Replica servers bound what a push may do from their side (see
// internal/replica's pushBallotSlack): a pushed ballot may exceed the
// MaxBallot of the last beacon answer by a bounded step only, so a forged
// push can no longer move a partition out of the meta's reach.

// ballotClaim is one replica's report of a ballot above the record.
type ballotClaim struct {
	ballot int64
	seen   time.Time
}

// guardState is the controller's record of ballot claims and admission
// (admission.go). Guarded by Controller.mu.
type guardState struct {
	// claims maps a partition to the nodes claiming a ballot above the
	// record, with the highest ballot each claimed.
	claims map[decide.Gpid]map[string]ballotClaim
	// maxBallot caches MaxBallot for maxBallotRefresh.
	maxBallot     int64
	maxBallotTime time.Time

	admission admission
}

// maxBallotRefresh bounds how stale MaxBallot may be: a new ballot is
// issued at most this long before beacon answers carry it, and replica
// servers leave room for far more changes than can happen meanwhile.
const maxBallotRefresh = time.Second

// MaxBallot returns the highest ballot of any partition in the leader's
// record, 0 on a follower.
func (c *Controller) MaxBallot() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.cache == nil {
		return 0
	}
	g := &c.guard
	if now.Sub(g.maxBallotTime) < maxBallotRefresh && !g.maxBallotTime.IsZero() {
		return g.maxBallot
	}
	var m int64
	for i := range c.cache.layout.Len() {
		m = max(m, c.cache.layout.At(i).Ballot)
	}
	g.maxBallot, g.maxBallotTime = m, now
	return m
}

// noteBallotAboveRecordLocked records that node reports partition gpid at
// a ballot above the record, and warns once per claim.
func (c *Controller) noteBallotAboveRecordLocked(node string, gpid decide.Gpid, reported, record int64) {
	g := &c.guard
	if g.claims == nil {
		g.claims = make(map[decide.Gpid]map[string]ballotClaim)
	}
	nodes := g.claims[gpid]
	if nodes == nil {
		nodes = make(map[string]ballotClaim)
		g.claims[gpid] = nodes
	}
	old, known := nodes[node]
	nodes[node] = ballotClaim{ballot: reported, seen: c.clock.Now()}
	if !known || old.ballot != reported {
		c.log.Warn("a replica reports a ballot above the meta's record: a configuration the meta never issued (forged, or the store was restored); repair with meta.repair_ballot",
			"node", node, "gpid", gpid.String(), "reported", reported, "record", record)
	}
	c.cfg.Metrics.BallotAboveRecord.Set(float64(c.validClaimsLocked(nil)))
}

// validClaimsLocked counts the partitions with a live claim (of table
// appID, or every table when nil), dropping claims that are stale: not
// repeated by a beacon for two grace periods, or no longer above the
// record.
func (c *Controller) validClaimsLocked(appID *int32) int {
	g := &c.guard
	now := c.clock.Now()
	n := 0
	for gpid, nodes := range g.claims {
		cfg, ok := c.cache.layout.Config(gpid)
		for node, cl := range nodes {
			if !ok || cl.ballot <= cfg.Ballot || now.Sub(cl.seen) > 2*c.cfg.FD.Grace {
				delete(nodes, node)
			}
		}
		if len(nodes) == 0 {
			delete(g.claims, gpid)
			continue
		}
		if appID == nil || gpid.AppID == *appID {
			n++
		}
	}
	return n
}

// repairBallot is the meta.repair_ballot remote command: every partition
// named (app_id.pidx), or every one with a claim when none is, is written
// again with its recorded members at a ballot one above the highest claim.
// Members adopt it as any newer configuration; the replica holding a
// forged one follows the real primary again.
func (c *Controller) repairBallot(ctx context.Context, args []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return "", err
	}
	c.validClaimsLocked(nil)
	var targets []decide.Gpid
	if len(args) == 0 {
		for gpid := range c.guard.claims {
			targets = append(targets, gpid)
		}
	}
	for _, a := range args {
		var gpid decide.Gpid
		if _, err := fmt.Sscanf(a, "%d.%d", &gpid.AppID, &gpid.Index); err != nil {
			c.mu.Unlock()
			return "", fmt.Errorf("%w: %q is not app_id.partition_index", ErrInvalidArgument, a)
		}
		targets = append(targets, gpid)
	}
	slices.SortFunc(targets, func(a, b decide.Gpid) int {
		if a.AppID != b.AppID {
			return int(a.AppID - b.AppID)
		}
		return int(a.Index - b.Index)
	})
	var changes []change
	var lines []string
	for _, gpid := range targets {
		cur, rev, ok := c.cache.config(gpid)
		if !ok {
			lines = append(lines, fmt.Sprintf("%s: no such partition", gpid))
			continue
		}
		top := int64(0)
		var claimants []string
		for node, cl := range c.guard.claims[gpid] {
			top = max(top, cl.ballot)
			claimants = append(claimants, node)
		}
		if top <= cur.Ballot {
			lines = append(lines, fmt.Sprintf("%s: no replica reports a ballot above %d", gpid, cur.Ballot))
			continue
		}
		slices.Sort(claimants)
		next := cur
		next.Ballot = top + 1
		reason := fmt.Sprintf("repair: %s reported ballot %d above the record %d", strings.Join(claimants, ","), top, cur.Ballot)
		changes = append(changes, change{
			proposal: decide.Proposal{Gpid: gpid, Ballot: cur.Ballot, Reason: reason},
			base:     cur, rev: rev, next: next,
		})
	}
	c.mu.Unlock()
	for _, r := range c.commit(t, changes) {
		if r.Err != nil {
			lines = append(lines, fmt.Sprintf("%s: not repaired: %v", r.next.Gpid, r.Err))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: ballot %d -> %d (%s)", r.next.Gpid, r.base.Ballot, r.next.Ballot, r.proposal.Reason))
	}
	if len(lines) == 0 {
		lines = append(lines, "no partition reports a ballot above the record")
	}
	return strings.Join(lines, "\n"), nil
}
