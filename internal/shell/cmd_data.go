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
	c.json = true
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
		var err error
		if ttl, err = parseTTL(in, in.args[3]); err != nil {
			return err
		}
	}
	if err := t.Set(ctx, []byte(in.args[0]), []byte(in.args[1]), []byte(in.args[2]), ttl); err != nil {
		return err
	}
	return printOK(in)
})

// printOK reports a write that returns nothing: OK, or {"ok": true}.
func printOK(in *invocation) error {
	if in.json {
		return writeJSON(in.out, jok{OK: true})
	}
	_, err := fmt.Fprintln(in.out, "OK")
	return err
}

// parseTTL reads a time to live in whole seconds, 0 meaning none.
func parseTTL(in *invocation, arg string) (time.Duration, error) {
	secs, err := strconv.ParseInt(arg, 10, 32)
	if err != nil || secs < 0 {
		return 0, in.cmd.usageError(fmt.Sprintf("ttl must be a number of seconds (0 or more), not %q", arg))
	}
	return time.Duration(secs) * time.Second, nil
}

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
	if in.json {
		out := struct {
			Found bool   `json:"found"`
			Value jbytes `json:"value,omitempty"`
		}{found, v}
		return writeJSON(in.out, out)
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
	return printOK(in)
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
	if in.json {
		return writeJSON(in.out, struct {
			Exist bool `json:"exist"`
		}{found})
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
	if err == nil && in.json {
		// ttl_seconds is -1 for a record that never expires, as the
		// Pegasus clients report it.
		out := struct {
			Found      bool  `json:"found"`
			TTLSeconds int64 `json:"ttl_seconds"`
		}{Found: found}
		if found {
			out.TTLSeconds = -1
			if ttl != client.NoTTL {
				out.TTLSeconds = int64(ttl / time.Second)
			}
		}
		return writeJSON(in.out, out)
	}
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
	recs := make([]client.Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = client.Record{HashKey: hashKey, SortKey: kv.SortKey, Value: kv.Value}
	}
	return printRecords(in, recs, more, false, "more records exist; name the sort keys to read them")
})
