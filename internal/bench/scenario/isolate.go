package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// networkNetNS is the onebox network mode that gives every replica server
// its own network namespace (onebox.NetworkNetNS).
const networkNetNS = "netns"

// sideReadPoll is how often the event looks for the old primary's first
// refused read.
const sideReadPoll = 100 * time.Millisecond

// sideReadWarmup is how long the load's reads go through the old
// primary's namespace before the cut, to show they work there.
const sideReadWarmup = 2 * time.Second

// SideReader moves the load's reads onto a client whose connections start
// inside one replica server's network namespace: it reaches that server
// over the namespace's own stack, so it keeps reaching it while the server
// is cut off from everything else, as a client next to it would. Writes
// stay on the outside client. Both go into the one history that is checked.
type SideReader interface {
	// ReadFrom opens the inside client (it reads once to learn the
	// routing and connect) and sends every later read through it.
	ReadFrom(ctx context.Context, node string) error
	// ReadFromOutside sends the reads back to the outside client.
	ReadFromOutside()
	// SideReads counts the reads the inside client has answered and
	// failed so far.
	SideReads() (ok, failed int64)
}

// Migrator runs migrate_node: the meta server moves every primary role of
// node to one of its secondaries. It returns the meta server's proposals.
type Migrator interface {
	MigrateNode(ctx context.Context, node string) ([]string, error)
}

func needIsolation(c Cluster) error {
	nc, ok := c.(NetworkCutter)
	if !ok {
		return fmt.Errorf("%w: %s cannot cut a node off the network", ErrUnsupported, c.Describe())
	}
	if _, err := nc.CutMethod(); err != nil {
		return err
	}
	if _, ok := c.(SideReader); !ok {
		return fmt.Errorf("%w: %s cannot read from inside a node's network", ErrUnsupported, c.Describe())
	}
	if _, ok := c.(Migrator); !ok {
		return fmt.Errorf("%w: %s cannot run migrate_node", ErrUnsupported, c.Describe())
	}
	return needMemberFinder(c)
}

// isolatePrimaryMigrate: the primary P of partition 0 keeps its clients
// (the load's reads come from inside its namespace) but loses the meta
// servers and its peers (its veth goes down), and migrate_node moves its
// primary role at once, while the failure detector still holds P alive.
// The meta server's new configuration makes another member primary; P
// never hears of it and holds a lease that is still valid. Unless no
// configuration without P commits a write before that lease has expired,
// P answers reads with values older than acknowledged writes, and the
// linearizability check fails. The reads go back outside once P refuses
// one, or at the heal. The cut lasts the downtime: beyond the lease and
// the failure detector's grace, so that the new configuration has to serve
// while P is still away.
func isolatePrimaryMigrate(ctx context.Context, e *Env) (err error) {
	mf := e.Cluster.(MemberFinder)
	before, err := mf.Members(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEvent, err)
	}
	if before.Primary == "" {
		return fmt.Errorf("%w: partition 0 has no primary", ErrEvent)
	}
	node := before.Primary
	e.Note("target %s is the primary of partition 0 at ballot %d (secondaries %s)", node, before.Ballot, strings.Join(before.Secondaries, ", "))
	sr := e.Cluster.(SideReader)
	if err := e.Step("reads from inside "+node+"'s network namespace", func() error { return sr.ReadFrom(ctx, node) }); err != nil {
		return err
	}
	defer sr.ReadFromOutside()
	if err := e.Wait(ctx, sideReadWarmup); err != nil {
		return err
	}

	nc := e.Cluster.(NetworkCutter)
	how, _ := nc.CutMethod()
	e.Note("the fault: %s is cut off from the meta servers and its peers (%s) while the load's reads reach it "+
		"from inside its network namespace and the writes come from outside", node, how)
	okCut, failedCut := sr.SideReads()
	if err := e.Step("cut "+node, func() error { return nc.Cut(ctx, node) }); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			healCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if herr := nc.Heal(healCtx, node); herr != nil && err == nil {
				err = fmt.Errorf("%w: heal %s: %w", ErrEvent, node, herr)
			}
		}
	}()
	var props []string
	if err := e.Step("migrate_node -n "+node, func() error {
		var err error
		props, err = e.Cluster.(Migrator).MigrateNode(ctx, node)
		return err
	}); err != nil {
		return err
	}
	e.Note("migrate_node %s proposed: %s", node, strings.Join(props, "; "))
	cutAt := time.Now()
	var refusedAfter time.Duration
	if err := e.Step(fmt.Sprintf("%s cut off %s", node, e.Downtime), func() error {
		// The reads stay inside until the old primary refuses one (its
		// lease is over, and it cannot renew it while cut off): from then
		// on its side serves nothing, and readers beside it would be as
		// cut off as it is. Moving them out keeps them from holding the
		// load's slots for an operation deadline each, so that the rest
		// of the cut shows whether the new configuration serves.
		for refusedAfter == 0 && time.Since(cutAt) < e.Downtime {
			if _, failed := sr.SideReads(); failed > failedCut {
				refusedAfter = time.Since(cutAt)
				ok, failed := sr.SideReads()
				e.Note("a read from inside %s's namespace first failed %.1f s into the cut (it was sent up to the operation "+
					"deadline before); by then %d reads from there were answered and %d failed; the reads go back outside",
					node, refusedAfter.Seconds(), ok-okCut, failed-failedCut)
				sr.ReadFromOutside()
				break
			}
			if err := e.Wait(ctx, sideReadPoll); err != nil {
				return err
			}
		}
		return e.Wait(ctx, e.Downtime-time.Since(cutAt))
	}); err != nil {
		return err
	}
	if refusedAfter == 0 {
		ok, failed := sr.SideReads()
		e.Note("reads from inside %s's namespace during the whole cut: %d answered, %d failed", node, ok-okCut, failed-failedCut)
	}
	if m, err := mf.Members(ctx); err == nil {
		e.Note("before the heal, partition 0 is at ballot %d: primary %q, secondaries %s", m.Ballot, m.Primary, strings.Join(m.Secondaries, ", "))
	}
	healed = true
	return e.Step("heal "+node, func() error { return nc.Heal(ctx, node) })
}
