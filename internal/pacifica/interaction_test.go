package pacifica

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestInteraction runs the scripts in testdata/. Each command drives the
// simulated cluster and prints the traffic and state below ----. Regenerate
// the expected output with -rewrite after a deliberate change, and read the
// diff: it is the protocol's story.
//
// Commands:
//
//	add-replicas 1 2 3 [min-replicas=N] [cache=N] [max-inflight=N]
//	config primary=1 secondaries=(2,3) [push=(2,3)]   meta server installs a configuration
//	                                     and pushes it (to every node concerned, or those listed)
//	push 1                               meta server pushes its configuration to node 1 (config sync)
//	update-config 1 ballot=B primary=P secondaries=(..)   hand node 1 an arbitrary configuration
//	add-learner 4                        meta server asks the primary to add a learner
//	propose 1 k=v [id=client:seq]        client write at node 1 (default: a fresh id)
//	read 1                               can node 1 serve a read?
//	process-ready [1 2 ...]              run the nodes' Ready through their drivers
//	deliver [from=1] [to=2] [type=Prepare] [count=N]   deliver messages in flight, in order
//	drop [from=1] [to=2] [type=Prepare]  lose messages in flight
//	meta                                 meta server handles pending proposals
//	stabilize                            repeat process-ready, deliver, meta until quiet
//	tick [n=N] [1 2 ...]                 advance time by N ticks, ticking the nodes
//	run ticks=N                          N times: tick everyone, then stabilize
//	pause for=10s                        advance time without ticking anyone
//	cut 1 / reconnect 1                  the network loses messages to and from 1
//	isolate 1 / heal 1                   cut node 1 off from the meta server (its
//	                                     lease from it stops renewing) / reconnect
//	crash 2 / restart 2                  lose / recover everything but the disk
//	wipe 2                               node 2's replica is deleted and created
//	                                     again, empty (a new incarnation)
//	gc-log 1 [to=D]                      drop node 1's log up to D (default: all applied)
//	report [1 2 ...]                     what the nodes report to the meta server
//	status                               every node's state
//	log 2                                node 2's durable log and storage
//	check-invariants [applied]           acknowledged writes held (and applied) by every member
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *cluster
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var out strings.Builder
			if c != nil {
				c.out = &out
			}
			if err := runCommand(t, &c, d, &out); err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
			}
			if out.Len() == 0 {
				return "ok\n"
			}
			return out.String()
		})
	})
}

func runCommand(t *testing.T, cp **cluster, d *datadriven.TestData, out *strings.Builder) error {
	if d.Cmd == "add-replicas" {
		if *cp == nil {
			cfg := Config{MinReplicaCount: 1, GroupCheckTicks: 10, PrepareRetryTicks: 3,
				PrepareTimeoutTicks: 6, LearnTimeoutTicks: 20, ProposalRetryTicks: 5,
				Lease: 2 * time.Second, Grace: 3 * time.Second}
			intArg(t, d, "min-replicas", &cfg.MinReplicaCount)
			intArg(t, d, "cache", &cfg.CacheEntries)
			intArg(t, d, "max-inflight", &cfg.MaxInflight)
			*cp = newCluster(cfg)
			(*cp).out = out
		}
		for _, id := range nodeArgs(d) {
			if err := (*cp).addNode(id); err != nil {
				return err
			}
		}
		return nil
	}
	c := *cp
	if c == nil {
		return fmt.Errorf("add-replicas first")
	}
	switch d.Cmd {
	case "config":
		var primary string
		d.ScanArgs(t, "primary", &primary)
		var secondaries []NodeID
		if arg, ok := d.Arg("secondaries"); ok {
			for _, v := range arg.Vals {
				secondaries = append(secondaries, NodeID(v))
			}
		}
		prev := c.meta
		if _, err := c.setConfig(NodeID(primary), secondaries); err != nil {
			return err
		}
		if arg, ok := d.Arg("primary-bounds"); ok {
			// node@ballot: what the meta server learned from the node's
			// report (Configuration.PrimaryBounds).
			for _, v := range arg.Vals {
				node, b, ok := strings.Cut(v, "@")
				n, err := strconv.Atoi(b)
				if !ok || err != nil {
					return fmt.Errorf("primary-bounds: %q is not node@ballot", v)
				}
				c.meta.PrimaryBounds = append(c.meta.PrimaryBounds, HoldRef{Primary: NodeID(node), Ballot: Ballot(n)})
			}
			c.tracef("  primary bounds %v\n", c.meta.PrimaryBounds)
		}
		if arg, ok := d.Arg("push"); ok {
			// Only some nodes hear of it (the others are cut off from the
			// meta server for now).
			for _, v := range arg.Vals {
				if err := c.pushTo(NodeID(v), c.meta); err != nil {
					return err
				}
			}
			return nil
		}
		return c.pushConfig(prev)

	case "push":
		for _, id := range nodeArgs(d) {
			if err := c.pushTo(id, c.meta); err != nil {
				return err
			}
		}
		return nil

	case "update-config":
		var ballot int
		var primary string
		d.ScanArgs(t, "ballot", &ballot)
		d.MaybeScanArgs(t, "primary", &primary)
		cfg := Configuration{Ballot: Ballot(ballot), Primary: NodeID(primary)}
		if arg, ok := d.Arg("secondaries"); ok {
			for _, v := range arg.Vals {
				cfg.Secondaries = append(cfg.Secondaries, NodeID(v))
			}
		}
		for _, id := range nodeArgs(d) {
			if err := c.nodes[id].r.UpdateConfig(cfg); err != nil {
				fmt.Fprintf(out, "%s: %v\n", id, err)
			} else {
				fmt.Fprintf(out, "%s\n", c.nodes[id].r.Debug())
			}
		}
		return nil

	case "add-learner":
		for _, id := range nodeArgs(d) {
			p := c.nodes[c.meta.Primary]
			if p == nil || p.r == nil {
				return fmt.Errorf("no live primary")
			}
			if err := p.r.AddLearner(id, c.meta.Ballot); err != nil {
				return err
			}
		}
		return nil

	case "remove-learner":
		// What the replica server does when the meta server's
		// configuration stops listing a learner.
		p := c.nodes[c.meta.Primary]
		if p == nil || p.r == nil {
			return fmt.Errorf("no live primary")
		}
		for _, id := range nodeArgs(d) {
			p.r.RemoveLearner(id)
		}
		fmt.Fprintf(out, "%s\n", p.r.Debug())
		return nil

	case "propose":
		ids := nodeArgs(d)
		if len(ids) != 1 {
			return fmt.Errorf("propose needs one node")
		}
		data := ""
		for _, a := range d.CmdArgs[1:] {
			if a.Key != "id" {
				data = a.String()
			}
		}
		rid := c.nextID()
		if arg, ok := d.Arg("id"); ok {
			var err error
			if rid, err = parseRequestID(arg.Vals[0]); err != nil {
				return err
			}
		}
		_, err := c.propose(ids[0], rid, data)
		var np *NotPrimaryError
		if err != nil && !errors.As(err, &np) && !errors.Is(err, ErrCapacityExceeded) &&
			!errors.Is(err, ErrNotEnoughMembers) {
			return err
		}
		return nil

	case "read":
		for _, id := range nodeArgs(d) {
			if !c.alive(id) {
				return fmt.Errorf("node %s is down", id)
			}
			n := c.nodes[id]
			now := c.timeOf(n)
			rs := n.r.ReadState()
			if err := rs.Check(now, c.metaLease(n)); err != nil {
				fmt.Fprintf(out, "%s: read refused: %v\n", id, err)
			} else if rs.NeedMetaLease {
				fmt.Fprintf(out, "%s: read ok at applied=%d (meta server's lease)\n", id, n.r.AppliedDecree())
			} else {
				fmt.Fprintf(out, "%s: read ok at applied=%d (lease %v left)\n", id, n.r.AppliedDecree(), rs.LeaseUntil.Sub(now))
			}
		}
		return nil

	case "process-ready":
		for _, id := range c.selectNodes(d) {
			if c.alive(id) && c.nodes[id].r.HasReady() {
				if err := c.processReady(id, -1); err != nil {
					return err
				}
			}
		}
		return nil

	case "deliver", "drop":
		count := -1
		intArg(t, d, "count", &count)
		var from, to, typ string
		d.MaybeScanArgs(t, "from", &from)
		d.MaybeScanArgs(t, "to", &to)
		d.MaybeScanArgs(t, "type", &typ)
		match := func(m Message) bool {
			return (from == "" || string(m.From) == from) && (to == "" || string(m.To) == to) &&
				(typ == "" || m.Type.String() == typ)
		}
		for i := 0; i < len(c.net) && count != 0; {
			if !match(c.net[i]) {
				i++
				continue
			}
			count--
			if d.Cmd == "drop" {
				fmt.Fprintf(out, "  drop %s\n", c.net[i])
				c.net = slices.Delete(c.net, i, i+1)
				continue
			}
			if err := c.deliver(i); err != nil {
				return err
			}
		}
		return nil

	case "meta":
		return c.runMeta()

	case "stabilize":
		return c.stabilize()

	case "tick":
		n := 1
		intArg(t, d, "n", &n)
		for i := 0; i < n; i++ {
			c.tickAll(c.selectNodes(d))
		}
		return nil

	case "run":
		// Time passes with everything working: each tick is followed by
		// stabilize, so members keep answering the group checks.
		n := 1
		intArg(t, d, "ticks", &n)
		for i := 0; i < n; i++ {
			c.tickAll(c.ids)
			if err := c.stabilize(); err != nil {
				return err
			}
		}
		return nil

	case "pause":
		// Every driver stops for a while (a GC pause, a stopped process,
		// an overloaded machine): time passes, no tick is delivered.
		var dur string
		d.ScanArgs(t, "for", &dur)
		dd, err := time.ParseDuration(dur)
		if err != nil {
			return err
		}
		c.advance(dd)
		return nil

	case "cut", "reconnect":
		// cut loses every message to or from the nodes from now on.
		for _, id := range nodeArgs(d) {
			c.nodes[id].cut = d.Cmd == "cut"
		}
		return nil

	case "isolate", "heal":
		// isolate cuts nodes off from the meta server: it stops renewing
		// their lease (a lone primary's reads need it). heal reconnects.
		for _, id := range nodeArgs(d) {
			c.isolate(c.nodes[id], d.Cmd == "isolate")
		}
		return nil

	case "crash":
		for _, id := range nodeArgs(d) {
			c.crash(id)
		}
		return nil

	case "restart":
		for _, id := range nodeArgs(d) {
			if c.alive(id) {
				return fmt.Errorf("node %s is up", id)
			}
			if err := c.restart(id); err != nil {
				return err
			}
		}
		return nil

	case "wipe":
		for _, id := range nodeArgs(d) {
			if err := c.wipe(id); err != nil {
				return err
			}
		}
		return nil

	case "gc-log":
		for _, id := range nodeArgs(d) {
			to := int(c.nodes[id].disk.appliedDecree())
			intArg(t, d, "to", &to)
			c.nodes[id].disk.gc(Decree(to))
			fmt.Fprintf(out, "%s: log starts at %d\n", id, c.nodes[id].disk.logFirst)
		}
		return nil

	case "report":
		// What each node tells the meta server about the partition in its
		// beacons: the input of recovery when every member was dropped.
		for _, id := range c.selectNodes(d) {
			if !c.alive(id) {
				fmt.Fprintf(out, "%s down\n", id)
				continue
			}
			r := c.nodes[id].r
			fmt.Fprintf(out, "%s: ballot=%d member_ballot=%d prepared=%d committed=%d (disk: %s)\n", id, r.Ballot(),
				r.MemberBallot(), r.PreparedDecree(), r.CommittedDecree(), hardStateText(c.nodes[id].disk.hard))
		}
		return nil

	case "status":
		for _, id := range c.ids {
			if !c.alive(id) {
				fmt.Fprintf(out, "%s down\n", id)
				continue
			}
			fmt.Fprintf(out, "%s\n", c.nodes[id].r.Debug())
		}
		return nil

	case "log":
		for _, id := range nodeArgs(d) {
			dk := c.nodes[id].disk
			var b strings.Builder
			for _, e := range dk.log {
				b.WriteString(" " + entryText(e))
			}
			fmt.Fprintf(out, "%s: ballot=%d log:%s\n", id, dk.ballot, b.String())
			b.Reset()
			for _, e := range dk.applied {
				b.WriteString(" " + entryText(e))
			}
			fmt.Fprintf(out, "%s: storage:%s\n", id, b.String())
		}
		return nil

	case "check-invariants":
		if err := c.finalCheck(d.HasArg("applied")); err != nil {
			return err
		}
		fmt.Fprintf(out, "ok: %d acknowledged writes held by members %v\n", len(c.check.ackedAt), c.members())
		return nil
	}
	return fmt.Errorf("unknown command %q", d.Cmd)
}

// stabilize runs drivers, network and meta server until nothing moves.
func (c *cluster) stabilize() error {
	for round := 0; round < 1000; round++ {
		moved := false
		for _, id := range c.ids {
			if c.alive(id) && c.nodes[id].r.HasReady() {
				if err := c.processReady(id, -1); err != nil {
					return err
				}
				moved = true
			}
		}
		for n := len(c.net); n > 0; n-- {
			if err := c.deliver(0); err != nil {
				return err
			}
			moved = true
		}
		if len(c.proposals) > 0 {
			if err := c.runMeta(); err != nil {
				return err
			}
			moved = true
		}
		if !moved {
			return nil
		}
	}
	return fmt.Errorf("not stable after 1000 rounds")
}

// runMeta lets the meta server handle every pending proposal, pushing each
// new configuration.
func (c *cluster) runMeta() error {
	pending := c.proposals
	c.proposals = nil
	for _, pf := range pending {
		if c.nodes[pf.from].isolated {
			c.tracef("meta: %s from %s lost (cut off from the meta server)\n", pf.p, pf.from)
			continue
		}
		prev := c.meta
		applied, err := c.applyProposal(pf)
		if err != nil {
			return err
		}
		if !applied {
			c.tracef("meta: ignore %s from %s\n", pf.p, pf.from)
			continue
		}
		if err := c.pushConfig(prev); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) nextID() RequestID {
	c.nextSeq++
	return RequestID{Seq: c.nextSeq}
}

func (c *cluster) selectNodes(d *datadriven.TestData) []NodeID {
	if ids := nodeArgs(d); len(ids) > 0 {
		return ids
	}
	return c.ids
}

// nodeArgs returns the bare numeric arguments, which name nodes.
func nodeArgs(d *datadriven.TestData) []NodeID {
	var ids []NodeID
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			if _, err := strconv.Atoi(a.Key); err == nil {
				ids = append(ids, NodeID(a.Key))
			}
		}
	}
	return ids
}

func intArg(t *testing.T, d *datadriven.TestData, key string, dst *int) {
	if d.HasArg(key) {
		d.ScanArgs(t, key, dst)
	}
}

func parseRequestID(s string) (RequestID, error) {
	c, q, ok := strings.Cut(s, ":")
	if !ok {
		return RequestID{}, fmt.Errorf("request id %q is not client:seq", s)
	}
	ci, err1 := strconv.ParseUint(c, 10, 64)
	qi, err2 := strconv.ParseUint(q, 10, 64)
	if err1 != nil || err2 != nil {
		return RequestID{}, fmt.Errorf("request id %q is not client:seq", s)
	}
	return RequestID{ClientID: ci, Seq: qi}, nil
}
