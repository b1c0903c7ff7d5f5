package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// The scanning commands, with Pegasus' shell syntax. Key and value filters
// (-s/-y, -h/-x, -v/-z) are applied by the shell to what the servers
// return: a filtered scan reads the whole range over the network.

// filterFlags are the filter options of the scanning commands, under
// Pegasus' letters.
var (
	sortKeyFilterFlags = []flagSpec{
		{long: "sort_key_filter_type", short: "s", kind: stringFlag, def: "no_filter", metavar: "anywhere|prefix|postfix|exact", usage: "keep records whose sort key matches the pattern so"},
		{long: "sort_key_filter_pattern", short: "y", kind: stringFlag, metavar: "STR", usage: "pattern of -s"},
	}
	valueFilterFlags = []flagSpec{
		{long: "value_filter_type", short: "v", kind: stringFlag, def: "no_filter", metavar: "anywhere|prefix|postfix|exact", usage: "keep records whose value matches the pattern so"},
		{long: "value_filter_pattern", short: "z", kind: stringFlag, metavar: "STR", usage: "pattern of -v"},
	}
	hashKeyFilterFlags = []flagSpec{
		{long: "hash_key_filter_type", short: "h", kind: stringFlag, def: "no_filter", metavar: "anywhere|prefix|postfix|exact", usage: "keep records whose hash key matches the pattern so"},
		{long: "hash_key_filter_pattern", short: "x", kind: stringFlag, metavar: "STR", usage: "pattern of -h"},
	}
	scanOutputFlags = []flagSpec{
		{long: "output", short: "o", kind: stringFlag, metavar: "FILE", usage: "write the records to FILE instead"},
		{long: "max_count", short: "n", kind: intFlag, def: "-1", metavar: "N", usage: "stop after N records (-1: no limit)"},
		{long: "timeout_ms", short: "t", kind: intFlag, def: "0", metavar: "MS", usage: "give up after MS milliseconds (0: no limit)"},
		{long: "no_value", short: "i", kind: boolFlag, usage: "print keys only"},
	}
)

func flagList(groups ...[]flagSpec) []flagSpec {
	var out []flagSpec
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// keyFilter is one of Pegasus' filters on a key or value.
type keyFilter struct {
	kind    string // no_filter, anywhere, prefix, postfix, exact
	pattern []byte
}

func (f keyFilter) match(b []byte) bool {
	switch f.kind {
	case "anywhere":
		return bytes.Contains(b, f.pattern)
	case "prefix":
		return bytes.HasPrefix(b, f.pattern)
	case "postfix":
		return bytes.HasSuffix(b, f.pattern)
	case "exact":
		return bytes.Equal(b, f.pattern)
	}
	return true
}

// parseFilter reads the filter of flags typeFlag and patternFlag.
func parseFilter(in *invocation, typeFlag, patternFlag string) (keyFilter, error) {
	f := keyFilter{kind: in.string(typeFlag), pattern: []byte(in.string(patternFlag))}
	switch f.kind {
	case "no_filter":
		return f, nil
	case "anywhere", "prefix", "postfix", "exact":
		if len(f.pattern) == 0 {
			return f, in.cmd.usageError(fmt.Sprintf("--%s %s needs --%s", typeFlag, f.kind, patternFlag))
		}
		return f, nil
	}
	return f, in.cmd.usageError(fmt.Sprintf("--%s must be anywhere, prefix, postfix or exact, not %q", typeFlag, f.kind))
}

// recordFilter is the conjunction of a scan's filters.
type recordFilter struct{ hash, sort, value keyFilter }

func (f recordFilter) match(r client.Record) bool {
	return f.hash.match(r.HashKey) && f.sort.match(r.SortKey) && f.value.match(r.Value)
}

// parseRecordFilter reads the filter flags the command has.
func parseRecordFilter(in *invocation) (recordFilter, error) {
	var f recordFilter
	var err error
	for _, x := range []struct {
		dst           *keyFilter
		typ, pattern  string
		hasFlagOfType bool
	}{
		{&f.hash, "hash_key_filter_type", "hash_key_filter_pattern", in.flags.Lookup("hash_key_filter_type") != nil},
		{&f.sort, "sort_key_filter_type", "sort_key_filter_pattern", in.flags.Lookup("sort_key_filter_type") != nil},
		{&f.value, "value_filter_type", "value_filter_pattern", in.flags.Lookup("value_filter_type") != nil},
	} {
		if !x.hasFlagOfType {
			continue
		}
		if *x.dst, err = parseFilter(in, x.typ, x.pattern); err != nil {
			return f, err
		}
	}
	return f, nil
}

// scanLimits are the -n and -t of a scanning command.
type scanLimits struct {
	maxCount int // < 0: none
	timeout  time.Duration
}

func parseScanLimits(in *invocation) (scanLimits, error) {
	l := scanLimits{maxCount: in.int("max_count"), timeout: time.Duration(in.int("timeout_ms")) * time.Millisecond}
	if l.timeout < 0 {
		return l, in.cmd.usageError("-t must not be negative")
	}
	return l, nil
}

// collect reads it, keeping the records f matches, up to the limit.
func collect(ctx context.Context, it RecordIterator, f recordFilter, limit int) (recs []client.Record, more bool, err error) {
	for it.Next() {
		r := it.Record()
		if !f.match(r) {
			continue
		}
		if limit >= 0 && len(recs) == limit {
			return recs, true, nil
		}
		recs = append(recs, r)
	}
	return recs, false, it.Err()
}

// runScan runs a scan command's iterator under its limits and prints the
// result to -o FILE or the command's output.
func runScan(ctx context.Context, in *invocation, scan func(ctx context.Context) RecordIterator) error {
	f, err := parseRecordFilter(in)
	if err != nil {
		return err
	}
	limits, err := parseScanLimits(in)
	if err != nil {
		return err
	}
	if limits.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limits.timeout)
		defer cancel()
	}
	recs, more, err := collect(ctx, scan(ctx), f, limits.maxCount)
	if err != nil {
		return err
	}
	out := in
	if path := in.string("output"); path != "" {
		file, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("%w: -o: %w", ErrUsage, err)
		}
		defer file.Close()
		toFile := *in
		toFile.out = file
		out = &toFile
	}
	note := ""
	if more {
		note = fmt.Sprintf("stopped at -n %d; more records exist", limits.maxCount)
	}
	if err := printRecords(out, recs, more, in.bool("no_value"), note); err != nil {
		return err
	}
	if out != in {
		fmt.Fprintf(in.out, "%d key-value pairs written to %s.\n", len(recs), in.string("output"))
		return out.out.(io.Closer).Close()
	}
	return nil
}

// parseInclusive reads a true|false flag.
func parseInclusive(in *invocation, name string) (bool, error) {
	v, err := strconv.ParseBool(in.string(name))
	if err != nil {
		return false, in.cmd.usageError(fmt.Sprintf("--%s must be true or false, not %q", name, in.string(name)))
	}
	return v, nil
}

var hashScanCommand = dataCommand(&command{
	name:    "hash_scan",
	args:    "<hash_key> <start_sort_key> <stop_sort_key>",
	summary: `read the records of one hash key between two sort keys, in sort key order ("" for an open bound)`,
	minArgs: 3, maxArgs: 3,
	flags: flagList([]flagSpec{
		{long: "start_inclusive", short: "a", kind: stringFlag, def: "true", metavar: "true|false", usage: "include the start sort key"},
		{long: "stop_inclusive", short: "b", kind: stringFlag, def: "false", metavar: "true|false", usage: "include the stop sort key"},
	}, sortKeyFilterFlags, valueFilterFlags, scanOutputFlags),
}, func(ctx context.Context, t DataTable, in *invocation) error {
	startIn, err := parseInclusive(in, "start_inclusive")
	if err != nil {
		return err
	}
	stopIn, err := parseInclusive(in, "stop_inclusive")
	if err != nil {
		return err
	}
	opts := &client.ScanOptions{StartExclusive: !startIn, StopInclusive: stopIn}
	return runScan(ctx, in, func(ctx context.Context) RecordIterator {
		return t.Scan(ctx, []byte(in.args[0]), []byte(in.args[1]), []byte(in.args[2]), opts)
	})
})

// scanCommand is hash_scan's short form: [start, stop), -n.
var scanCommand = dataCommand(&command{
	name:    "scan",
	args:    "<hash_key> [start_sort_key] [stop_sort_key]",
	summary: "read the records of a hash key in sort key order, in [start, stop)",
	minArgs: 1, maxArgs: 3,
	flags: flagList(scanOutputFlags),
}, func(ctx context.Context, t DataTable, in *invocation) error {
	var start, stop []byte
	if len(in.args) > 1 {
		start = []byte(in.args[1])
	}
	if len(in.args) > 2 {
		stop = []byte(in.args[2])
	}
	return runScan(ctx, in, func(ctx context.Context) RecordIterator {
		return t.Scan(ctx, []byte(in.args[0]), start, stop, nil)
	})
})

var partitionFlag = flagSpec{long: "partition", short: "p", kind: intFlag, def: "-1", metavar: "PIDX", usage: "only this partition (-1: all)"}

// fullScanOptions reads -p.
func fullScanOptions(in *invocation, noValue bool) *client.FullScanOptions {
	o := &client.FullScanOptions{NoValue: noValue}
	if p := in.int("partition"); p >= 0 {
		o.OnePartition, o.Partition = true, p
	}
	return o
}

var fullScanCommand = dataCommand(&command{
	name:    "full_scan",
	summary: "read every record of the table, partition by partition",
	flags:   flagList(hashKeyFilterFlags, sortKeyFilterFlags, valueFilterFlags, scanOutputFlags, []flagSpec{partitionFlag}),
}, func(ctx context.Context, t DataTable, in *invocation) error {
	// Values are needed to filter on them even with -i.
	noValue := in.bool("no_value") && in.string("value_filter_type") == "no_filter"
	opts := fullScanOptions(in, noValue)
	return runScan(ctx, in, func(ctx context.Context) RecordIterator { return t.FullScan(ctx, opts) })
})

var countDataCommand = dataCommand(&command{
	name:    "count_data",
	summary: "count the records of the table (or of one partition) by scanning them",
	flags: flagList([]flagSpec{
		{long: "precise", short: "c", kind: boolFlag, usage: "accepted for Pegasus compatibility: the count is always precise"},
		partitionFlag,
		{long: "max_batch_count", short: "b", kind: intFlag, def: "500", metavar: "N", usage: "records per scan batch"},
		{long: "timeout_ms", short: "t", kind: intFlag, def: "0", metavar: "MS", usage: "give up after MS milliseconds (0: no limit)"},
		{long: "diff_hash_key", short: "d", kind: boolFlag, usage: "also count distinct hash keys"},
	}, hashKeyFilterFlags, sortKeyFilterFlags, valueFilterFlags),
}, func(ctx context.Context, t DataTable, in *invocation) error {
	f, err := parseRecordFilter(in)
	if err != nil {
		return err
	}
	if ms := in.int("timeout_ms"); ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	} else if ms < 0 {
		return in.cmd.usageError("-t must not be negative")
	}
	if in.int("max_batch_count") <= 0 {
		return in.cmd.usageError("-b must be positive")
	}
	opts := fullScanOptions(in, in.string("value_filter_type") == "no_filter")
	opts.BatchSize = in.int("max_batch_count")
	it := t.FullScan(ctx, opts)
	var rows, hashKeys int64
	var last []byte
	for it.Next() {
		r := it.Record()
		if !f.match(r) {
			continue
		}
		rows++
		// Records of a hash key are adjacent within a partition, and a
		// hash key lives in one partition.
		if rows == 1 || !bytes.Equal(r.HashKey, last) {
			hashKeys++
			last = bytes.Clone(r.HashKey)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if in.json {
		out := struct {
			RowCount     int64  `json:"row_count"`
			HashKeyCount *int64 `json:"hash_key_count,omitempty"`
		}{RowCount: rows}
		if in.bool("diff_hash_key") {
			out.HashKeyCount = &hashKeys
		}
		return writeJSON(in.out, out)
	}
	fmt.Fprintf(in.out, "Count done, total %d rows.", rows)
	if in.bool("diff_hash_key") {
		fmt.Fprintf(in.out, " (%d hash keys)", hashKeys)
	}
	_, err = fmt.Fprintln(in.out)
	return err
})

// sortKeyCountRun is count's and sortkey_count's body.
func sortKeyCountRun(ctx context.Context, t DataTable, in *invocation) error {
	n, err := t.SortKeyCount(ctx, []byte(in.args[0]))
	if err != nil {
		return err
	}
	if in.json {
		return writeJSON(in.out, struct {
			Count int64 `json:"count"`
		}{n})
	}
	_, err = fmt.Fprintln(in.out, n)
	return err
}

var countCommand = dataCommand(&command{
	name:    "count",
	args:    "<hash_key>",
	summary: "count the sort keys of a hash key",
	minArgs: 1, maxArgs: 1,
}, sortKeyCountRun)

var sortKeyCountCommand = dataCommand(&command{
	name:    "sortkey_count",
	args:    "<hash_key>",
	summary: "count the sort keys of a hash key (the same as count)",
	minArgs: 1, maxArgs: 1,
}, sortKeyCountRun)
