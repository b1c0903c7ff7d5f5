package plan

import (
	"fmt"
	"strings"

	"github.com/pegasus-go/pegasus/internal/version"
)

// The compatibility rule of an upgrade, checked before anything else:
//
// During a roll old and new binaries serve side by side for as long as the
// roll takes, and every pair of them talks (client to replica, primary to
// secondary, replica to meta, meta to meta). So the new binary's protocol
// version must be compatible with the protocol version of every running
// server, not only of the nodes selected for this roll. Compatible is the
// meta server's own admission rule, version.Protocol.CompatibleWith: the
// same major version and minors at most one apart, in either direction (a
// rollback to the previous minor is a legal roll). A major bump changes the
// meaning of existing messages and cannot be rolled; a jump of two minors
// would have the meta server refuse the first upgraded replica server.
// A server whose version is missing or unreadable is refused too: an
// unknown peer is not a compatible one.

// IncompatibleNode is a running server the new binary cannot run beside.
type IncompatibleNode struct {
	Node    string
	Role    Role
	Version string // as reported; empty when the server reported none
}

// IncompatibleError is returned by Build when the new binary's protocol
// version is incompatible with running servers. errors.Is(err,
// ErrIncompatibleProtocol) holds.
type IncompatibleError struct {
	NewVersion string
	Nodes      []IncompatibleNode
}

func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: new binary speaks %s, incompatible with", ErrIncompatibleProtocol, e.NewVersion)
	for i, n := range e.Nodes {
		if i > 0 {
			b.WriteString(",")
		}
		v := n.Version
		if v == "" {
			v = "unknown"
		}
		fmt.Fprintf(&b, " %s %s (%s)", n.Role, n.Node, v)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIncompatibleProtocol) true.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatibleProtocol }

// checkCompatibility applies the rule above to every server in the snapshot.
func checkCompatibility(s Snapshot) error {
	if strings.TrimSpace(s.NewVersion) == "" {
		return ErrNoNewVersion
	}
	newVersion, err := version.ParseProtocol(s.NewVersion)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoNewVersion, err)
	}
	incompatible := &IncompatibleError{NewVersion: newVersion.String()}
	check := func(node string, role Role, running string) {
		v, err := version.ParseProtocol(running)
		if err != nil || !newVersion.CompatibleWith(v) {
			incompatible.Nodes = append(incompatible.Nodes, IncompatibleNode{Node: node, Role: role, Version: running})
		}
	}
	for _, m := range s.Metas {
		check(m.Node, RoleMeta, m.Version)
	}
	for _, r := range s.Replicas {
		check(r.Node, RoleReplica, r.Version)
	}
	if c := s.Collector; c != nil {
		check(c.Node, RoleCollector, c.Version)
	}
	if len(incompatible.Nodes) > 0 {
		return incompatible
	}
	return nil
}
