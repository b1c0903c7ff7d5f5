package oneboxcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/replica"
)

// Setup describes the onebox a scenario runs on. Zero fields take the
// defaults noted.
type Setup struct {
	// Dir holds the onebox; empty creates a temporary directory that Close
	// removes.
	Dir string
	// Binary is the pegasus binary every process runs (and that runs the
	// rolling update); empty means this executable.
	Binary string
	// Metas and Replicas are the server counts (onebox defaults: 2 and 3).
	Metas    int
	Replicas int
	// Table is the benchmark table; its replica count is capped at the
	// number of replica servers.
	Table pegasustarget.TableSpec
	// Progress receives the onebox's and the rolling update's lines.
	Progress io.Writer
	// Network is the onebox's network mode (onebox.NetworkLoopback when
	// empty, or onebox.NetworkNetNS for real network cuts).
	Network string
	// Tuning adjusts the roles' configurations (a test shortening the
	// failure detector).
	Tuning onebox.Tuning
	// WallClockHook starts every replica server with the test-only
	// wall-clock hook (replica.WallClockOffsetEnv), for Cluster.StepClock.
	// It sets the variable in this process's environment, which the
	// onebox's processes inherit, and leaves it set: later oneboxes of this
	// process get the hook too, with no offset file (no offset).
	WallClockHook bool
	// TLS makes the onebox require mutual TLS (onebox start --tls).
	TLS bool
}

// Launched is a running onebox with its benchmark table open.
type Launched struct {
	Onebox     *onebox.Cluster
	Cluster    *Cluster
	Connection *pegasustarget.Connection
	// Target is the load's target: the connection's, with reads that a
	// scenario can move inside a replica server's network namespace.
	Target    bench.Target
	removeDir string
}

// Launch starts a new onebox, creates the benchmark table, waits until it
// is fully healthy and opens it. On error nothing is left running.
func Launch(ctx context.Context, s Setup) (_ *Launched, err error) {
	l := &Launched{}
	if s.Dir == "" {
		dir, err := os.MkdirTemp("", "pegasus-bench-")
		if err != nil {
			return nil, fmt.Errorf("oneboxcluster: %w", err)
		}
		s.Dir, l.removeDir = dir, dir
	}
	if s.Binary == "" {
		if s.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("oneboxcluster: %w", err)
		}
	}
	if s.Replicas <= 0 {
		s.Replicas = onebox.DefaultReplicas
	}
	if s.Table.ReplicaCount <= 0 {
		s.Table.ReplicaCount = pegasustarget.DefaultReplicaCount
	}
	s.Table.ReplicaCount = min(s.Table.ReplicaCount, s.Replicas)
	if s.WallClockHook {
		if err := os.Setenv(replica.WallClockOffsetEnv, wallClockFile); err != nil {
			return nil, fmt.Errorf("oneboxcluster: %w", err)
		}
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()

	l.Onebox, err = onebox.Start(ctx, onebox.Options{
		Dir:      s.Dir,
		Metas:    s.Metas,
		Replicas: s.Replicas,
		Binary:   s.Binary,
		Progress: s.Progress,
		Network:  s.Network,
		Tuning:   s.Tuning,
		TLS:      s.TLS,
	})
	if err != nil {
		return nil, err
	}
	l.Cluster = New(l.Onebox, s.Table.Name, s.Binary, s.Progress)
	l.Connection, err = pegasustarget.Connect(ctx, pegasustarget.ConnectOptions{
		MetaServers: l.Onebox.MetaAddrs(),
		Table:       s.Table,
		Create:      true,
		Credentials: l.Onebox.Credentials(),
	})
	if err != nil {
		return nil, err
	}
	counterTable, err := l.Connection.Client.Open(ctx, s.Table.Name)
	if err != nil {
		return nil, err
	}
	l.Cluster.SetCounterTable(counterTable)
	l.Target = l.Cluster.LoadTarget(l.Connection.Target)
	return l, nil
}

// Close closes the client, stops every process of the onebox and, when
// Launch created the directory, removes it.
func (l *Launched) Close() error {
	var errs []error
	if l.Connection != nil {
		errs = append(errs, l.Connection.Close())
	}
	if l.Cluster != nil {
		errs = append(errs, l.Cluster.Close())
	}
	if l.Onebox != nil {
		errs = append(errs, l.Onebox.StopAll(), l.Onebox.Close())
	}
	if l.removeDir != "" {
		errs = append(errs, os.RemoveAll(l.removeDir))
	}
	return errors.Join(errs...)
}
