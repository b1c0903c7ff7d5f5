package shell

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// DataClient opens tables for the data commands.
type DataClient interface {
	// Open returns the named table, or an error wrapping
	// client.ErrTableNotFound when there is none.
	Open(ctx context.Context, table string) (DataTable, error)
	Close() error
}

// DataTable is what the data commands need of a table; *client.Table
// provides it (see clientTable).
type DataTable interface {
	Get(ctx context.Context, hashKey, sortKey []byte) ([]byte, bool, error)
	Set(ctx context.Context, hashKey, sortKey, value []byte, ttl time.Duration) error
	Del(ctx context.Context, hashKey, sortKey []byte) error
	Exist(ctx context.Context, hashKey, sortKey []byte) (bool, error)
	TTL(ctx context.Context, hashKey, sortKey []byte) (time.Duration, bool, error)
	MultiGet(ctx context.Context, hashKey []byte, sortKeys [][]byte, opts *client.MultiGetOptions) ([]client.KeyValue, bool, error)
	MultiSet(ctx context.Context, hashKey []byte, kvs []client.KeyValue, ttl time.Duration) error
	MultiDel(ctx context.Context, hashKey []byte, sortKeys [][]byte) error
	SortKeyCount(ctx context.Context, hashKey []byte) (int64, error)
	Incr(ctx context.Context, hashKey, sortKey []byte, delta int64, opts *client.IncrOptions) (int64, error)
	CheckAndSet(ctx context.Context, hashKey []byte, check client.Check, setSortKey, value []byte, opts *client.CheckAndSetOptions) (client.CheckAndSetResult, error)
	// Scan iterates over the records of hashKey with sort keys between
	// start and stop (empty bounds are open).
	Scan(ctx context.Context, hashKey, start, stop []byte, opts *client.ScanOptions) RecordIterator
	// FullScan iterates over every record of the table.
	FullScan(ctx context.Context, opts *client.FullScanOptions) RecordIterator
}

// RecordIterator is what the scanning commands need of a scan;
// *client.Scanner provides it.
type RecordIterator interface {
	Next() bool
	Record() client.Record
	Err() error
}

// newClientData connects a client.Client.
func newClientData(ctx context.Context, metas []string, dialTimeout time.Duration, tlsCfg *tls.Config) (DataClient, error) {
	c, err := client.New(ctx, client.Config{MetaServers: metas, DialTimeout: dialTimeout, TLS: tlsCfg})
	if err != nil {
		return nil, err
	}
	return clientData{c}, nil
}

type clientData struct{ c *client.Client }

func (d clientData) Open(ctx context.Context, table string) (DataTable, error) {
	t, err := d.c.Open(ctx, table)
	if err != nil {
		return nil, err
	}
	return clientTable{t}, nil
}

func (d clientData) Close() error { return d.c.Close() }

// clientTable adapts *client.Table to DataTable.
type clientTable struct{ *client.Table }

func (t clientTable) Scan(ctx context.Context, hashKey, start, stop []byte, opts *client.ScanOptions) RecordIterator {
	return t.Table.Scan(ctx, hashKey, start, stop, opts)
}

func (t clientTable) FullScan(ctx context.Context, opts *client.FullScanOptions) RecordIterator {
	return t.Table.FullScan(ctx, opts)
}

// selectedTable returns the table chosen with use.
func (s *Shell) selectedTable() (DataTable, error) {
	if s.table == nil {
		return nil, fmt.Errorf("%w: run use <table> first", ErrNoTable)
	}
	return s.table, nil
}

// openTable connects the data client if needed and opens a table.
func (s *Shell) openTable(ctx context.Context, name string) (DataTable, error) {
	if s.data == nil {
		d, err := s.cfg.NewDataClient(ctx, s.cfg.MetaServers, s.cfg.DialTimeout)
		if err != nil {
			if errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrTimeout) {
				return nil, fmt.Errorf("%w (%v): %w", ErrMetaUnreachable, s.cfg.MetaServers, err)
			}
			return nil, err
		}
		s.data = d
	}
	t, err := s.data.Open(ctx, name)
	if errors.Is(err, client.ErrTableNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTable, name)
	}
	return t, err
}
