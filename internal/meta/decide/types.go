package decide

import (
	"fmt"
	"slices"
	"strings"
)

// Gpid identifies a partition: the table (app) id and the partition index,
// printed as Pegasus prints it, "app_id.pidx".
type Gpid struct {
	AppID int32
	Index int32
}

func (g Gpid) String() string { return fmt.Sprintf("%d.%d", g.AppID, g.Index) }

// Compare orders partitions by table, then index.
func (g Gpid) Compare(o Gpid) int {
	if g.AppID != o.AppID {
		if g.AppID < o.AppID {
			return -1
		}
		return 1
	}
	switch {
	case g.Index < o.Index:
		return -1
	case g.Index > o.Index:
		return 1
	}
	return 0
}

// maxLastDrops bounds PartitionConfig.LastDrops (Pegasus maintain_drops).
const maxLastDrops = 3

// PartitionConfig is the meta server's record of one partition, stored in
// etcd and pushed to replica servers. Nodes are "host:port" strings.
//
// Invariants (Check): every node appears in at most one of Primary,
// Secondaries and Learners; LastDrops holds no primary or secondary and at
// most maxLastDrops nodes, oldest first. A learner may also be in LastDrops:
// that is the dropped node being brought back.
type PartitionConfig struct {
	Gpid Gpid
	// Ballot numbers configurations; every change writes Ballot+1.
	Ballot          int64
	MaxReplicaCount int32
	// Primary is empty when the partition has none.
	Primary     string
	Secondaries []string
	// Learners are nodes the primary is bringing in as potential
	// secondaries (Pegasus CT_ADD_SECONDARY). Recording them in the config
	// rather than only in the leader's memory makes in-flight adds survive
	// a meta failover, lets the primary learn of them from the ordinary
	// config push, and lets flow control count them from the configs.
	Learners []string
	// LastDrops are the nodes most recently removed from the group, oldest
	// first. The last one is the node a restart window waits for, and the
	// candidate for recovery when every member is gone.
	LastDrops []string
	// LastDropDetails says, per entry of LastDrops, what the meta server
	// knew of it when it dropped the node. Configurations written before
	// the field existed have none (nil): then only the last dropped node is
	// trusted for recovery.
	LastDropDetails     []DropDetail
	LastCommittedDecree int64
}

// DropDetail is what the meta server records about a node it removes from
// a partition's members.
type DropDetail struct {
	// MemberBallot is the ballot of the last configuration that listed the
	// node as a member. The node holds every write committed up to it (all
	// of them needed its acknowledgement, and it joined holding everything
	// committed before), whether or not it ever heard of that ballot.
	MemberBallot int64
	// Incarnation is the copy of the partition the node reported when it
	// was dropped, zero if unknown. A copy that replaced it since (the
	// replica was deleted and created again) holds none of that.
	Incarnation uint64
	// MinPrimaryBallot is what the node reported when it was dropped: it
	// acts as primary of the partition at no ballot below it (see
	// ReplicaReport). Zero if unknown. Configurations carry it to the
	// replicas, so that a new primary does not wait out the read lease of
	// an old one that crashed and came back.
	MinPrimaryBallot int64
}

// dropDetail returns the detail of LastDrops[i], zero if not recorded.
func (c *PartitionConfig) dropDetail(i int) DropDetail {
	if i < len(c.LastDropDetails) {
		return c.LastDropDetails[i]
	}
	return DropDetail{}
}

// Clone returns a deep copy.
func (c PartitionConfig) Clone() PartitionConfig {
	c.Secondaries = slices.Clone(c.Secondaries)
	c.Learners = slices.Clone(c.Learners)
	c.LastDrops = slices.Clone(c.LastDrops)
	c.LastDropDetails = slices.Clone(c.LastDropDetails)
	return c
}

// ReplicaCount is the number of members: the primary and the secondaries.
// Learners are not counted; they hold no complete copy yet.
func (c PartitionConfig) ReplicaCount() int {
	n := len(c.Secondaries)
	if c.Primary != "" {
		n++
	}
	return n
}

// Role is a node's role in one partition.
type Role uint8

const (
	RoleNone Role = iota
	RolePrimary
	RoleSecondary
	RoleLearner
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleSecondary:
		return "secondary"
	case RoleLearner:
		return "learner"
	}
	return "none"
}

// RoleOf returns node's role in the partition.
func (c PartitionConfig) RoleOf(node string) Role {
	switch {
	case node == "":
		return RoleNone
	case c.Primary == node:
		return RolePrimary
	case slices.Contains(c.Secondaries, node):
		return RoleSecondary
	case slices.Contains(c.Learners, node):
		return RoleLearner
	}
	return RoleNone
}

// Check verifies the invariants documented on PartitionConfig. The driver
// runs it on configs read from etcd before handing them to the core.
func (c PartitionConfig) Check() error {
	seen := make(map[string]bool, 1+len(c.Secondaries)+len(c.Learners))
	add := func(n, what string) error {
		if n == "" {
			return fmt.Errorf("%w: %s: empty %s", ErrInvalidConfig, c.Gpid, what)
		}
		if seen[n] {
			return fmt.Errorf("%w: %s: %s %s holds two roles", ErrInvalidConfig, c.Gpid, what, n)
		}
		seen[n] = true
		return nil
	}
	if c.Primary != "" {
		if err := add(c.Primary, "primary"); err != nil {
			return err
		}
	}
	for _, s := range c.Secondaries {
		if err := add(s, "secondary"); err != nil {
			return err
		}
	}
	for _, l := range c.Learners {
		if err := add(l, "learner"); err != nil {
			return err
		}
	}
	if n := len(c.LastDropDetails); n != 0 && n != len(c.LastDrops) {
		return fmt.Errorf("%w: %s: %d last_drop details for %d last_drops", ErrInvalidConfig, c.Gpid, n, len(c.LastDrops))
	}
	if len(c.LastDrops) > maxLastDrops {
		return fmt.Errorf("%w: %s: %d last_drops, at most %d", ErrInvalidConfig, c.Gpid, len(c.LastDrops), maxLastDrops)
	}
	for i, d := range c.LastDrops {
		if r := c.RoleOf(d); r == RolePrimary || r == RoleSecondary {
			return fmt.Errorf("%w: %s: dropped node %s is %s", ErrInvalidConfig, c.Gpid, d, r)
		}
		if d == "" || slices.Contains(c.LastDrops[:i], d) {
			return fmt.Errorf("%w: %s: bad last_drops %v", ErrInvalidConfig, c.Gpid, c.LastDrops)
		}
	}
	if c.MaxReplicaCount < 1 {
		return fmt.Errorf("%w: %s: max_replica_count %d", ErrInvalidConfig, c.Gpid, c.MaxReplicaCount)
	}
	return nil
}

func (c PartitionConfig) String() string {
	p := c.Primary
	if p == "" {
		p = "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s ballot=%d primary=%s secondaries=[%s]", c.Gpid, c.Ballot, p, strings.Join(c.Secondaries, ","))
	if len(c.Learners) > 0 {
		fmt.Fprintf(&b, " learners=[%s]", strings.Join(c.Learners, ","))
	}
	if len(c.LastDrops) > 0 {
		fmt.Fprintf(&b, " last_drops=[%s]", strings.Join(c.LastDrops, ","))
	}
	return b.String()
}

// ConfigType is a kind of configuration change, numbered as Pegasus'
// config_type and the rpc ConfigType enum.
type ConfigType int32

const (
	ConfigInvalid ConfigType = iota
	// AssignPrimary makes Node (== Target) the primary of a partition that
	// has none and whose Node holds no other role.
	AssignPrimary
	// UpgradeToPrimary promotes the secondary Node (== Target) of a
	// partition without primary.
	UpgradeToPrimary
	// AddSecondary asks the primary Target to bring Node in as a learner.
	AddSecondary
	// UpgradeToSecondary turns the caught-up learner Node into a secondary;
	// the primary Target proposes it when learning succeeded.
	UpgradeToSecondary
	// DowngradeToSecondary turns the primary Node (== Target) into a
	// secondary; paired with UpgradeToPrimary it is a graceful handover.
	DowngradeToSecondary
	// DowngradeToInactive removes Node from the group and records it in
	// LastDrops: it keeps its data and may come back through learning.
	DowngradeToInactive
	// Remove takes the secondary or learner Node out of the group for good
	// (redundant replica, or the source of a balancer copy). It is not
	// recorded in LastDrops: the node is told to discard its replica, so it
	// is no recovery candidate.
	Remove
)

var configTypeNames = [...]string{
	ConfigInvalid:        "INVALID",
	AssignPrimary:        "ASSIGN_PRIMARY",
	UpgradeToPrimary:     "UPGRADE_TO_PRIMARY",
	AddSecondary:         "ADD_SECONDARY",
	UpgradeToSecondary:   "UPGRADE_TO_SECONDARY",
	DowngradeToSecondary: "DOWNGRADE_TO_SECONDARY",
	DowngradeToInactive:  "DOWNGRADE_TO_INACTIVE",
	Remove:               "REMOVE",
}

// String returns the Pegasus name without the CT_ prefix, as `propose
// --type` takes it.
func (t ConfigType) String() string {
	if t >= 0 && int(t) < len(configTypeNames) {
		return configTypeNames[t]
	}
	return fmt.Sprintf("ConfigType(%d)", int32(t))
}

// Action is one configuration change. Target is the node that would carry
// it out in Pegasus (the primary, or the node itself); the meta server
// checks it the way Pegasus' partition_guardian::from_proposals does, so a
// proposal built against a different primary is rejected.
type Action struct {
	Type   ConfigType
	Target string
	Node   string
	// Incarnation is the copy of the partition on Node the action is
	// about, zero if unknown: the copy being dropped (DowngradeToInactive,
	// recorded in LastDropDetails), the copy a primary saw catch up
	// (UpgradeToSecondary, which CheckIncarnation compares with what the
	// node reports), or the copy made primary (AssignPrimary).
	Incarnation uint64
	// MinPrimaryBallot is, for DowngradeToInactive, the bound the dropped
	// node reported (ReplicaReport.MinPrimaryBallot), recorded in
	// LastDropDetails.
	MinPrimaryBallot int64
}

func (a Action) String() string {
	return fmt.Sprintf("%s target=%s node=%s", a.Type, a.Target, a.Node)
}

// Proposal is a list of actions for one partition that the driver writes as
// ONE new configuration (Ballot+1), in one etcd transaction that compares
// the stored ballot with Ballot. Several actions in one proposal let the
// meta server do in one step what Pegasus does in two: drop a dead primary
// and promote a secondary, or hand the primary role over gracefully.
type Proposal struct {
	Gpid Gpid
	// Ballot is the ballot of the configuration the proposal was computed
	// against. ApplyProposal refuses the proposal once the ballot moved on.
	Ballot  int64
	Actions []Action
	// Reason says why, for logs and the shell.
	Reason string
}

func (p Proposal) String() string {
	parts := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s@%d [%s] (%s)", p.Gpid, p.Ballot, strings.Join(parts, "; "), p.Reason)
}

// Lines renders the proposal as Pegasus' shell prints proposals, one
// `propose` line per action; rolling-update scripts parse these lines.
func (p Proposal) Lines() []string {
	out := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		out[i] = fmt.Sprintf("propose --gpid %s --type %s -t %s -n %s", p.Gpid, a.Type, a.Target, a.Node)
	}
	return out
}

// PartitionStatus is a replica's own view of its role (Pegasus
// partition_status), numbered as the rpc PartitionStatus enum.
type PartitionStatus int32

const (
	StatusInvalid PartitionStatus = iota
	StatusInactive
	StatusError
	StatusPrimary
	StatusSecondary
	StatusPotentialSecondary
)

// ReplicaReport is what a replica server says about one of its replicas in
// a beacon.
type ReplicaReport struct {
	Gpid   Gpid
	Status PartitionStatus
	// Ballot is the newest ballot the replica entered (as a member or as
	// a learner of its primary).
	Ballot int64
	// MemberBallot is the highest ballot at which the replica was a member
	// (primary or secondary): it holds every write committed up to it.
	// Zero from a replica server of a version that does not report it.
	MemberBallot        int64
	LastCommittedDecree int64
	LastPreparedDecree  int64
	LastDurableDecree   int64
	// Incarnation names the replica's copy, drawn when its directory was
	// created; zero from a version that has none.
	Incarnation uint64
	// MinPrimaryBallot: the replica is primary at no ballot below it, and
	// neither was any earlier process of its server (one above the newest
	// ballot it had entered when this process opened it). Zero if unknown.
	MinPrimaryBallot int64
}

// NodeView is what the decision logic needs to know about replica servers.
// The FailureDetector implements it; tests use small fakes.
type NodeView interface {
	// Alive reports whether node may hold and receive roles.
	Alive(node string) bool
	// AliveNodes lists the alive nodes in ascending order.
	AliveNodes() []string
	// Report returns node's latest report about partition g.
	Report(node string, g Gpid) (ReplicaReport, bool)
}
