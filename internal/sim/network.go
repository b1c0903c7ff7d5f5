package sim

import "time"

// network carries messages between processes. A message arrives once, or
// twice, or never, after a random delay:
//
//   - delay: base latency plus jitter, and now and then a long stall (a
//     retransmission, a slow switch), so messages overtake each other;
//   - drop and duplicate, with the probabilities of the schedule;
//   - partitions: a directed link can be cut, so one-way, asymmetric and
//     partial partitions (a node that reaches clients but not the meta
//     servers, one that reaches the meta servers but not its peers) are
//     sets of cut links. A message is lost if its link is cut when it is
//     sent or when it would arrive.
//
// A message addressed to a process is dropped if that process is down or
// restarted while it was on its way: a connection does not survive its
// peer's restart. A process that is paused receives it after the pause.
type network struct {
	w *World
	// cut holds the directed links that are down: cut[from][to].
	cut map[string]map[string]bool
	// slow holds extra latency of directed links (scripts).
	slow map[[2]string]time.Duration

	dropP  float64
	dupP   float64
	minLat time.Duration
	maxLat time.Duration
	// stallP is the chance a message takes a long way, up to maxStall.
	stallP   float64
	maxStall time.Duration
}

func newNetwork(w *World) *network {
	return &network{w: w, cut: make(map[string]map[string]bool), slow: make(map[[2]string]time.Duration),
		minLat: 200 * time.Microsecond, maxLat: 2 * time.Millisecond}
}

// linked reports whether from can currently send to to.
func (n *network) linked(from, to string) bool { return !n.cut[from][to] }

// setLink cuts (up=false) or restores the directed link from -> to.
func (n *network) setLink(from, to string, up bool) {
	m := n.cut[from]
	if m == nil {
		m = make(map[string]bool)
		n.cut[from] = m
	}
	if up {
		delete(m, to)
	} else {
		m[to] = true
	}
}

// healAll restores every link.
func (n *network) healAll() {
	clear(n.cut)
	clear(n.slow)
}

// latency draws the transit time of one message from -> to.
func (n *network) latency(from, to string) time.Duration {
	d := n.w.between(n.minLat, n.maxLat) + n.slow[[2]string{from, to}]
	if n.w.chance(n.stallP) {
		d += n.w.between(0, n.maxStall)
	}
	return d
}

// send delivers fn on process to, as a message from process from. The
// receiving life is fixed at send time.
func (n *network) send(from, to *proc, fn func()) { n.sendCopies(from, to, fn, true) }

// sendOnce is send without duplicates: a call and its answer are gRPC
// messages, which a connection may lose (it breaks) or delay but never
// delivers twice. (The draw for a duplicate is still made, so that a
// seed's schedule does not depend on which messages may repeat.)
func (n *network) sendOnce(from, to *proc, fn func()) { n.sendCopies(from, to, fn, false) }

func (n *network) sendCopies(from, to *proc, fn func(), dups bool) {
	if !n.linked(from.name, to.name) || n.w.chance(n.dropP) {
		n.w.stats.dropped++
		return
	}
	copies := 1
	if n.w.chance(n.dupP) && dups {
		copies = 2
	}
	for range copies {
		n.w.schedule(to, n.latency(from.name, to.name), func() {
			if !n.linked(from.name, to.name) {
				n.w.stats.dropped++
				return
			}
			fn()
		})
	}
}

// sendReliable is send without random drops or duplicates: a call and its
// answer on one connection (TCP retransmits; gRPC does not duplicate),
// still subject to partitions, delay and the receiver's restarts.
func (n *network) sendReliable(from, to *proc, fn func()) {
	if !n.linked(from.name, to.name) {
		n.w.stats.dropped++
		return
	}
	n.w.schedule(to, n.latency(from.name, to.name), func() {
		if !n.linked(from.name, to.name) {
			n.w.stats.dropped++
			return
		}
		fn()
	})
}

// call is one request/answer exchange from caller to callee, bounded by
// timeout on the caller's clock. handle runs on the callee and answers
// through respond, at once or later (a write answers when it commits), or
// never; only the first answer counts. done runs on the caller exactly
// once: with the answer, or with ok=false on timeout, or at once when the
// callee is down (connection refused). sent reports whether the request
// left the caller at all, which a client needs to know whether a write may
// have reached the server.
//
// With lossy set, the request and the answer may be dropped like any
// message, never repeated: a client that got an answer to a request knows
// that request reached the server once, and a refusal ("not applied")
// proves so. Repeating it let a refused write be applied by its copy
// (seed 5423: a set answered ERR_NOT_ENOUGH_MEMBER, so reported failed,
// was applied 3 s later). Without lossy they only suffer partitions and
// delay.
func call[Req, Resp any](n *network, caller, callee *proc, timeout time.Duration, lossy bool,
	req Req, handle func(req Req, respond func(Resp)), done func(resp Resp, ok, sent bool)) {
	finished := false
	sent := false
	finish := func(r Resp, ok bool) {
		if !finished {
			finished = true
			done(r, ok, sent)
		}
	}
	var zero Resp
	n.w.after(caller, timeout, func() { finish(zero, false) })
	if !callee.up && n.linked(caller.name, callee.name) && n.linked(callee.name, caller.name) {
		// Nothing listens there: the connection is refused at once.
		n.w.schedule(caller, n.latency(caller.name, callee.name), func() { finish(zero, false) })
		return
	}
	sendFn := n.sendReliable
	if lossy {
		sendFn = n.sendOnce
	}
	sent = true
	sendFn(caller, callee, func() {
		inc := callee.inc
		answered := false
		handle(req, func(resp Resp) {
			if answered || !callee.up || callee.inc != inc {
				return
			}
			answered = true
			sendFn(callee, caller, func() { finish(resp, true) })
		})
	})
}
