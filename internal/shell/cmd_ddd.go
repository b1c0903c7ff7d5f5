package shell

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// ddd_diagnose is Pegasus' command for partitions whose every member is gone
// (DDD: dead, dead, dead). The meta server recovers such a partition on its
// own only from the node that holds the latest writes, and waits for it
// otherwise. This command shows each one with what every dropped node holds,
// and is the only way to end the wait: with -d the operator names the node
// to go on from, accepting the loss of whatever only the awaited node holds.
// The meta server checks the choice and logs it as an audit event.

type dddJSON struct {
	Partitions []dddPartitionJSON `json:"partitions"`
	Proposed   string             `json:"proposed,omitempty"`
}

type dddPartitionJSON struct {
	Gpid          string        `json:"gpid"`
	Ballot        int64         `json:"ballot"`
	LastCommitted int64         `json:"last_committed"`
	Dropped       []dddNodeJSON `json:"dropped"`
	Reason        string        `json:"ddd_reason"`
	Recommended   string        `json:"recommend_primary,omitempty"`
}

type dddNodeJSON struct {
	Node             string `json:"node"`
	Alive            bool   `json:"alive"`
	Collected        bool   `json:"collected"`
	DropMemberBallot int64  `json:"drop_member_ballot"`
	// What the node reports now, when it reports a copy (collected).
	MemberBallot  int64  `json:"member_ballot,omitempty"`
	Ballot        int64  `json:"ballot,omitempty"`
	LastCommitted int64  `json:"last_committed,omitempty"`
	LastPrepared  int64  `json:"last_prepared,omitempty"`
	Incarnation   string `json:"incarnation,omitempty"`
	// SameCopy: the copy reported is the one the node was dropped with.
	SameCopy bool `json:"same_copy"`
}

var dddDiagnoseCommand = &command{
	name:    "ddd_diagnose",
	summary: "show partitions whose every member is gone; with -d, make -n the primary of -g (audited)",
	json:    true,
	flags: []flagSpec{
		{long: "gpid", short: "g", kind: stringFlag, metavar: "APP[.PIDX]", usage: "only this table, or partition"},
		{long: "diagnose", short: "d", kind: boolFlag, usage: "assign the primary of the partition -g to the node -n"},
		{long: "node", short: "n", kind: stringFlag, metavar: "ADDR", usage: "with -d: the node to go on from"},
		{long: "allow_empty", kind: boolFlag, usage: "with -d: accept a node that holds no copy at all"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		req := &pb.DDDDiagnoseRequest{PartitionIndex: -1, Operator: operatorName()}
		if g := in.string("gpid"); g != "" {
			app, pidx, hasPidx := strings.Cut(g, ".")
			a, err := strconv.ParseInt(app, 10, 32)
			if err != nil || a <= 0 {
				return in.cmd.usageError("bad -g " + strconv.Quote(g))
			}
			req.AppId = int32(a)
			if hasPidx {
				p, err := strconv.ParseInt(pidx, 10, 32)
				if err != nil || p < 0 {
					return in.cmd.usageError("bad -g " + strconv.Quote(g))
				}
				req.PartitionIndex = int32(p)
			}
		}
		if in.bool("diagnose") {
			if in.string("node") == "" || req.PartitionIndex < 0 {
				return in.cmd.usageError("-d needs -g APP.PIDX and -n ADDR")
			}
			req.AssignPrimary, req.AllowEmpty = in.string("node"), in.bool("allow_empty")
		}
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.DDDDiagnoseResponse, error) {
			return m.DDDDiagnose(ctx, req)
		})
		if err != nil {
			return err
		}
		if err := codeError("ddd_diagnose", "", resp.GetError()); err != nil {
			return err
		}
		out := dddJSON{Partitions: []dddPartitionJSON{}, Proposed: resp.GetProposed()}
		for _, p := range resp.GetPartitions() {
			c := p.GetConfig()
			pj := dddPartitionJSON{
				Gpid:   fmt.Sprintf("%d.%d", c.GetGpid().GetAppId(), c.GetGpid().GetPartitionIndex()),
				Ballot: c.GetBallot(), LastCommitted: c.GetLastCommittedDecree(),
				Reason: p.GetReason(), Recommended: p.GetRecommended(), Dropped: []dddNodeJSON{},
			}
			for _, d := range p.GetDropped() {
				r := d.GetReport()
				nj := dddNodeJSON{Node: d.GetNode(), Alive: d.GetAlive(), Collected: d.GetCollected(),
					DropMemberBallot: d.GetDropMemberBallot(), MemberBallot: r.GetMemberBallot(), Ballot: r.GetBallot(),
					LastCommitted: r.GetLastCommittedDecree(), LastPrepared: r.GetLastPreparedDecree(),
					SameCopy: d.GetCollected() && (d.GetDropIncarnation() == 0 || r.GetIncarnation() == d.GetDropIncarnation())}
				if r.GetIncarnation() != 0 {
					nj.Incarnation = fmt.Sprintf("%016x", r.GetIncarnation())
				}
				pj.Dropped = append(pj.Dropped, nj)
			}
			out.Partitions = append(out.Partitions, pj)
		}
		if in.json {
			return writeJSON(in.out, out)
		}
		w := in.out
		if out.Proposed != "" {
			fmt.Fprintf(w, "propose_request: %s\npropose_response: ERR_OK\n\n", out.Proposed)
		}
		fmt.Fprintf(w, "Total %d ddd partitions:\n\n", len(out.Partitions))
		for i, p := range out.Partitions {
			fmt.Fprintf(w, "(%d) %s\n", i+1, p.Gpid)
			fmt.Fprintf(w, "    config: ballot(%d), last_committed(%d)\n    ----\n", p.Ballot, p.LastCommitted)
			for j, d := range p.Dropped {
				fmt.Fprintf(w, "    dropped[%d]: node(%s), alive(%t), collected(%t), member_until_ballot(%d)",
					j, d.Node, d.Alive, d.Collected, d.DropMemberBallot)
				if d.Collected {
					fmt.Fprintf(w, ", member_ballot(%d), ballot(%d), last_committed(%d), last_prepared(%d), same_copy(%t)",
						d.MemberBallot, d.Ballot, d.LastCommitted, d.LastPrepared, d.SameCopy)
				}
				switch j {
				case len(p.Dropped) - 1:
					fmt.Fprint(w, "  <== the latest")
				case len(p.Dropped) - 2:
					fmt.Fprint(w, "  <== the secondary latest")
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "    ----\n    ddd_reason: %s\n", p.Reason)
			fmt.Fprintf(w, "    recommend_primary: %s\n\n", orNone(p.Recommended))
		}
		fmt.Fprintln(w, "Diagnose ddd done.")
		return nil
	},
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// operatorName names who runs the shell, for the meta server's audit log.
func operatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}
