package oneboxcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// counterSortKey is the sort key of every counter record.
var counterSortKey = []byte("n")

// counters implements scenario.CounterClient on the benchmark table with
// the public client's incr and check_and_set.
type counters struct {
	table *client.Table
}

// SetCounterTable gives the cluster the opened benchmark table for
// Counters (Launch does it).
func (c *Cluster) SetCounterTable(t *client.Table) { c.counterTable = t }

// Counters implements scenario.CounterCluster.
func (c *Cluster) Counters() scenario.CounterClient { return counters{table: c.counterTable} }

// TriggerCheckpoint implements scenario.CounterCluster with the replica
// server's replica.trigger-checkpoint remote command.
func (c *Cluster) TriggerCheckpoint(ctx context.Context, node string) error {
	p, err := c.process(node)
	if err != nil {
		return err
	}
	resp, err := dial.CallServer(ctx, c.conns, p.Address, (*dial.Conns).ReplicaAdmin,
		func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.RemoteCommandResponse, error) {
			return r.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: "replica.trigger-checkpoint"})
		})
	if err != nil {
		return fmt.Errorf("%w: trigger-checkpoint on %s: %w", ErrAdmin, node, err)
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return fmt.Errorf("%w: trigger-checkpoint on %s: %s %s", ErrAdmin, node, code, resp.GetError().GetMessage())
	}
	return nil
}

func (k counters) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	return k.table.Incr(ctx, []byte(key), counterSortKey, delta, nil)
}

func (k counters) Read(ctx context.Context, key string) (int64, error) {
	v, found, err := k.table.Get(ctx, []byte(key), counterSortKey)
	if err != nil || !found {
		return 0, err
	}
	return strconv.ParseInt(string(v), 10, 64)
}

func (k counters) CompareAndSet(ctx context.Context, key string, prev, next int64) (bool, error) {
	check := client.Check{SortKey: counterSortKey, Type: client.CheckValueIntEqual, Operand: []byte(strconv.FormatInt(prev, 10))}
	if prev == 0 {
		// A counter starts absent: 0 is "not there yet".
		check = client.Check{SortKey: counterSortKey, Type: client.CheckValueNotExist}
	}
	res, err := k.table.CheckAndSet(ctx, []byte(key), check, counterSortKey, []byte(strconv.FormatInt(next, 10)), nil)
	return res.Applied, err
}

// IsUnknown: the client wraps ErrUnknownOutcome whenever an attempt may
// have been applied; anything else is a definite failure.
func (counters) IsUnknown(err error) bool { return errors.Is(err, client.ErrUnknownOutcome) }

// CheckpointsInstalled implements scenario.CounterCluster from the replica
// server's /status page.
func (c *Cluster) CheckpointsInstalled(ctx context.Context, node string) (int64, error) {
	p, err := c.process(node)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTPAddress+"/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: status of %s: %w", ErrAdmin, node, err)
	}
	defer resp.Body.Close()
	var page struct {
		Replicas []struct {
			Installed int64 `json:"checkpoints_installed"`
		} `json:"replicas"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, fmt.Errorf("%w: status of %s: %w", ErrAdmin, node, err)
	}
	var n int64
	for _, r := range page.Replicas {
		n += r.Installed
	}
	return n, nil
}
