package etcdcluster

import "errors"

var (
	// ErrUnknownMember: no member has that name.
	ErrUnknownMember = errors.New("etcdcluster: unknown member")
	// ErrNotHealthy: a member is down, or the members do not agree on a
	// leader.
	ErrNotHealthy = errors.New("etcdcluster: not healthy")
	// ErrExited: a member exited while it was waited for.
	ErrExited = errors.New("etcdcluster: member exited")
)
