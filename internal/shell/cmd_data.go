package shell

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// The data commands print as Pegasus' shell does: values in double quotes
// with non-printable bytes escaped, OK for writes, "Not found" for missing
// records.

var useCommand = &command{
	name:    "use",
	args:    "<table>",
	summary: "select the table the data commands work on",
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		t, err := s.openTable(ctx, in.args[0])
		if err != nil {
			return err
		}
		s.tableName, s.table = in.args[0], t
		fmt.Fprintln(in.out, "OK")
		return nil
	},
}

// dataCommand builds a command on the selected table. Errors of the client
// package already name the operation and the table, and are returned as
// they are.
func dataCommand(c *command, run func(ctx context.Context, t DataTable, in *invocation) error) *command {
	c.run = func(ctx context.Context, s *Shell, in *invocation) error {
		t, err := s.selectedTable()
		if err != nil {
			return err
		}
		return run(ctx, t, in)
	}
	return c
}

var setCommand = dataCommand(&command{
	name:    "set",
	args:    "<hash_key> <sort_key> <value> [ttl_seconds]",
	summary: "write a record, optionally with a time to live",
	minArgs: 3, maxArgs: 4,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	var ttl time.Duration
	if len(in.args) == 4 {
		secs, err := strconv.Atoi(in.args[3])
		if err != nil || secs < 0 {
			return in.cmd.usageError("ttl must be a number of seconds")
		}
		ttl = time.Duration(secs) * time.Second
	}
	if err := t.Set(ctx, []byte(in.args[0]), []byte(in.args[1]), []byte(in.args[2]), ttl); err != nil {
		return err
	}
	fmt.Fprintln(in.out, "OK")
	return nil
})

var getCommand = dataCommand(&command{
	name:    "get",
	args:    "<hash_key> <sort_key>",
	summary: "read a record",
	minArgs: 2, maxArgs: 2,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	v, found, err := t.Get(ctx, []byte(in.args[0]), []byte(in.args[1]))
	if err != nil {
		return err
	}
	if !found {
		fmt.Fprintln(in.out, "Not found")
		return nil
	}
	fmt.Fprintln(in.out, escape(v))
	return nil
})

var delCommand = dataCommand(&command{
	name:    "del",
	args:    "<hash_key> <sort_key>",
	summary: "delete a record",
	minArgs: 2, maxArgs: 2,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	if err := t.Del(ctx, []byte(in.args[0]), []byte(in.args[1])); err != nil {
		return err
	}
	fmt.Fprintln(in.out, "OK")
	return nil
})

var existCommand = dataCommand(&command{
	name:    "exist",
	args:    "<hash_key> <sort_key>",
	summary: "tell whether a record exists",
	minArgs: 2, maxArgs: 2,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	found, err := t.Exist(ctx, []byte(in.args[0]), []byte(in.args[1]))
	if err != nil {
		return err
	}
	if found {
		fmt.Fprintln(in.out, "True")
	} else {
		fmt.Fprintln(in.out, "False")
	}
	return nil
})

var ttlCommand = dataCommand(&command{
	name:    "ttl",
	args:    "<hash_key> <sort_key>",
	summary: "show a record's remaining time to live in seconds",
	minArgs: 2, maxArgs: 2,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	ttl, found, err := t.TTL(ctx, []byte(in.args[0]), []byte(in.args[1]))
	switch {
	case err != nil:
		return err
	case !found:
		fmt.Fprintln(in.out, "Not found")
	case ttl == client.NoTTL:
		fmt.Fprintln(in.out, "Infinite")
	default:
		fmt.Fprintln(in.out, int64(ttl/time.Second))
	}
	return nil
})

var multiGetCommand = dataCommand(&command{
	name:    "multi_get",
	args:    "<hash_key> [sort_key...]",
	summary: "read several records of a hash key (all of them without sort keys)",
	minArgs: 1, maxArgs: -1,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	hashKey := []byte(in.args[0])
	var sortKeys [][]byte
	for _, sk := range in.args[1:] {
		sortKeys = append(sortKeys, []byte(sk))
	}
	kvs, more, err := t.MultiGet(ctx, hashKey, sortKeys, nil)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		fmt.Fprintf(in.out, "%s : %s => %s\n", escape(hashKey), escape(kv.SortKey), escape(kv.Value))
	}
	fmt.Fprintf(in.out, "\n%d key-value pairs got.\n", len(kvs))
	if more {
		fmt.Fprintln(in.out, "more records exist; name the sort keys to read them")
	}
	return nil
})

var scanCommand = dataCommand(&command{
	name:    "scan",
	args:    "<hash_key> [start_sort_key] [stop_sort_key]",
	summary: "read the records of a hash key in sort key order, in [start, stop)",
	minArgs: 1, maxArgs: 3,
	flags: []flagSpec{
		{long: "max_count", short: "n", kind: intFlag, def: "0", metavar: "N", usage: "stop after N records (0: no limit)"},
	},
}, func(ctx context.Context, t DataTable, in *invocation) error {
	hashKey := []byte(in.args[0])
	var start, stop []byte
	if len(in.args) > 1 {
		start = []byte(in.args[1])
	}
	if len(in.args) > 2 {
		stop = []byte(in.args[2])
	}
	limit := in.int("max_count")
	if limit < 0 {
		return in.cmd.usageError("-n must not be negative")
	}
	recs, more, err := t.ScanRange(ctx, hashKey, start, stop, limit)
	if err != nil {
		return err
	}
	for _, r := range recs {
		fmt.Fprintf(in.out, "%s : %s => %s\n", escape(r.HashKey), escape(r.SortKey), escape(r.Value))
	}
	fmt.Fprintf(in.out, "\n%d key-value pairs got.\n", len(recs))
	if more {
		fmt.Fprintf(in.out, "stopped at -n %d; more records exist\n", limit)
	}
	return nil
})
