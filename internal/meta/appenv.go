package meta

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pegasus-go/pegasus/internal/appenv"
)

// AppEnvOp is an update_app_env operation (Pegasus app_env_operation).
type AppEnvOp uint8

const (
	AppEnvSet AppEnvOp = iota + 1
	AppEnvDel
	AppEnvClear
)

// AppEnvUpdate is one update_app_env request.
type AppEnvUpdate struct {
	Table string
	Op    AppEnvOp
	// Keys and Values pair up for AppEnvSet; Keys alone for AppEnvDel.
	Keys, Values []string
	// ClearPrefix selects the keys AppEnvClear deletes; empty clears all.
	ClearPrefix string
}

// UpdateAppEnv changes a table's environment variables (Pegasus
// update_app_env: set_app_envs, del_app_envs, clear_app_envs). The table's
// record is rewritten in the store with EnvsRevision+1, then pushed to
// every replica server holding a partition of it; a server the push misses
// learns it from its next beacon answer (syncEnvsLocked). The hint says
// what was done or ignored (keys that were not set). A change that changes
// nothing is not written.
func (c *Controller) UpdateAppEnv(ctx context.Context, u AppEnvUpdate) (Table, string, error) {
	if err := ctx.Err(); err != nil {
		return Table{}, "", err
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return Table{}, "", err
	}
	if level := c.planner.Knobs().Level; !level.AllowsDDL() {
		c.mu.Unlock()
		return Table{}, "", fmt.Errorf("%w: update_app_env at %s", ErrLevelForbids, level)
	}
	id, ok := c.cache.byName[u.Table]
	if !ok || c.cache.tables[id].Status != TableAvailable {
		c.mu.Unlock()
		return Table{}, "", fmt.Errorf("%w: %s", ErrTableNotFound, u.Table)
	}
	tb := c.cache.tables[id].Clone()
	c.mu.Unlock()

	envs, hint, err := applyEnvUpdate(tb.Envs, u)
	if err != nil {
		return tb, "", err
	}
	if maps.Equal(envs, tb.Envs) {
		return tb, hint, nil
	}
	if err := (CreateTableRequest{Name: tb.Name, PartitionCount: tb.PartitionCount, ReplicaCount: tb.ReplicaCount, Envs: envs}).validate(); err != nil {
		return tb, "", err
	}
	tb.Envs, tb.EnvsRevision = envs, tb.EnvsRevision+1
	wctx, cancel := t.writeCtx()
	defer cancel()
	if err := t.store.UpdateTable(wctx, tb); err != nil {
		return Table{}, "", c.storeErr(t, err)
	}
	c.mu.Lock()
	if c.term != t {
		c.mu.Unlock()
		return Table{}, "", fmt.Errorf("%w: during update_app_env %s", ErrLostLeadership, tb.Name)
	}
	c.cache.tables[tb.AppID] = tb
	nodes := make(map[string]bool)
	for _, cfg := range c.cache.tableConfigs(tb) {
		for _, n := range members(cfg) {
			nodes[n] = true
		}
	}
	for n := range nodes {
		c.pushes.enqueue(n, nil, []Table{tb})
	}
	c.mu.Unlock()
	c.log.Info("table envs updated", "table", tb.Name, "app_id", tb.AppID, "envs_revision", tb.EnvsRevision, "envs", tb.Envs)
	return tb, hint, nil
}

// applyEnvUpdate returns the envs after u, leaving old untouched.
func applyEnvUpdate(old map[string]string, u AppEnvUpdate) (map[string]string, string, error) {
	envs := maps.Clone(old)
	if envs == nil {
		envs = make(map[string]string)
	}
	switch u.Op {
	case AppEnvSet:
		if len(u.Keys) == 0 || len(u.Keys) != len(u.Values) {
			return nil, "", fmt.Errorf("%w: set_app_envs needs key/value pairs, got %d keys and %d values", ErrInvalidArgument, len(u.Keys), len(u.Values))
		}
		for i, k := range u.Keys {
			if err := appenv.Validate(k, u.Values[i]); err != nil {
				return nil, "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
			}
			envs[k] = u.Values[i]
		}
		return envs, "", nil
	case AppEnvDel:
		if len(u.Keys) == 0 {
			return nil, "", fmt.Errorf("%w: del_app_envs needs at least one key", ErrInvalidArgument)
		}
		var missing []string
		for _, k := range u.Keys {
			if _, ok := envs[k]; !ok {
				missing = append(missing, k)
			}
			delete(envs, k)
		}
		if len(missing) > 0 {
			return envs, "not set, nothing deleted: " + strings.Join(missing, ", "), nil
		}
		return envs, "", nil
	case AppEnvClear:
		var cleared []string
		for k := range envs {
			if strings.HasPrefix(k, u.ClearPrefix) {
				cleared = append(cleared, k)
				delete(envs, k)
			}
		}
		slices.Sort(cleared)
		if len(cleared) == 0 {
			return envs, "no env matched, nothing cleared", nil
		}
		return envs, "cleared: " + strings.Join(cleared, ", "), nil
	}
	return nil, "", fmt.Errorf("%w: unknown update_app_env operation %d", ErrInvalidArgument, u.Op)
}
