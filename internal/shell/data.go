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
	// ScanRange returns the records of hashKey with sort keys in
	// [start, stop) (empty bounds are open), at most limit of them when
	// limit > 0; more reports that the limit cut the scan short.
	ScanRange(ctx context.Context, hashKey, start, stop []byte, limit int) (recs []client.Record, more bool, err error)
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

func (t clientTable) ScanRange(ctx context.Context, hashKey, start, stop []byte, limit int) ([]client.Record, bool, error) {
	sc := t.Scan(ctx, hashKey, start, stop, nil)
	var recs []client.Record
	for sc.Next() {
		if limit > 0 && len(recs) == limit {
			return recs, true, nil
		}
		recs = append(recs, sc.Record())
	}
	return recs, false, sc.Err()
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
