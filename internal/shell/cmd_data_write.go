package shell

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// The atomic and multi-record writes, with Pegasus' shell syntax.

var incrCommand = dataCommand(&command{
	name:    "incr",
	args:    "<hash_key> <sort_key> [increment]",
	summary: "atomically add increment (default 1, may be negative) to an integer value and print the new value",
	minArgs: 2, maxArgs: 3,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	delta := int64(1)
	if len(in.args) == 3 {
		var err error
		if delta, err = strconv.ParseInt(in.args[2], 10, 64); err != nil {
			return in.cmd.usageError(fmt.Sprintf("increment must be an integer, not %q", in.args[2]))
		}
	}
	v, err := t.Incr(ctx, []byte(in.args[0]), []byte(in.args[1]), delta, nil)
	if err != nil {
		return err
	}
	if in.json {
		return writeJSON(in.out, struct {
			NewValue int64 `json:"new_value"`
		}{v})
	}
	_, err = fmt.Fprintln(in.out, v)
	return err
})

// checkTypes maps Pegasus' shell names of check_and_set conditions.
var checkTypes = map[string]client.CheckType{
	"no_check":               client.CheckNoCheck,
	"not_exist":              client.CheckValueNotExist,
	"not_exist_or_empty":     client.CheckValueNotExistOrEmpty,
	"exist":                  client.CheckValueExist,
	"not_empty":              client.CheckValueNotEmpty,
	"match_anywhere":         client.CheckValueMatchAnywhere,
	"match_prefix":           client.CheckValueMatchPrefix,
	"match_postfix":          client.CheckValueMatchPostfix,
	"bytes_less":             client.CheckValueBytesLess,
	"bytes_less_or_equal":    client.CheckValueBytesLessOrEqual,
	"bytes_equal":            client.CheckValueBytesEqual,
	"bytes_greater_or_equal": client.CheckValueBytesGreaterOrEqual,
	"bytes_greater":          client.CheckValueBytesGreater,
	"int_less":               client.CheckValueIntLess,
	"int_less_or_equal":      client.CheckValueIntLessOrEqual,
	"int_equal":              client.CheckValueIntEqual,
	"int_greater_or_equal":   client.CheckValueIntGreaterOrEqual,
	"int_greater":            client.CheckValueIntGreater,
}

// takesOperand reports whether a check type compares against an operand.
func takesOperand(ct client.CheckType) bool {
	switch ct {
	case client.CheckNoCheck, client.CheckValueNotExist, client.CheckValueNotExistOrEmpty,
		client.CheckValueExist, client.CheckValueNotEmpty:
		return false
	}
	return true
}

var checkAndSetCommand = dataCommand(&command{
	name:    "check_and_set",
	args:    "<hash_key>",
	summary: "atomically check one record of a hash key and, if the check passes, set a record of it",
	minArgs: 1, maxArgs: 1,
	flags: []flagSpec{
		{long: "check_sort_key", short: "c", kind: stringFlag, metavar: "SORT_KEY", required: true, usage: "sort key of the checked record"},
		{long: "check_type", short: "t", kind: stringFlag, metavar: "TYPE", required: true,
			usage: "not_exist|not_exist_or_empty|exist|not_empty|match_anywhere|match_prefix|match_postfix|bytes_less|bytes_less_or_equal|bytes_equal|bytes_greater_or_equal|bytes_greater|int_less|int_less_or_equal|int_equal|int_greater_or_equal|int_greater"},
		{long: "check_operand", short: "o", kind: stringFlag, metavar: "STR", usage: "operand of the comparing check types"},
		{long: "set_sort_key", short: "s", kind: stringFlag, metavar: "SORT_KEY", required: true, usage: "sort key of the record to set"},
		{long: "set_value", short: "v", kind: stringFlag, metavar: "STR", required: true, usage: "value to set"},
		{long: "set_value_ttl_seconds", short: "l", kind: intFlag, def: "0", metavar: "SECONDS", usage: "time to live of the set record (0: none)"},
		{long: "return_check_value", short: "r", kind: boolFlag, usage: "also print the checked record's value"},
	},
}, func(ctx context.Context, t DataTable, in *invocation) error {
	ct, ok := checkTypes[in.string("check_type")]
	if !ok {
		return in.cmd.usageError(fmt.Sprintf("unknown check type %q", in.string("check_type")))
	}
	check := client.Check{SortKey: []byte(in.string("check_sort_key")), Type: ct}
	if takesOperand(ct) {
		if !in.flags.Changed("check_operand") {
			return in.cmd.usageError("check type " + in.string("check_type") + " needs -o")
		}
		check.Operand = []byte(in.string("check_operand"))
	}
	ttl := in.int("set_value_ttl_seconds")
	if ttl < 0 {
		return in.cmd.usageError("ttl must be a number of seconds (0 or more)")
	}
	res, err := t.CheckAndSet(ctx, []byte(in.args[0]), check, []byte(in.string("set_sort_key")), []byte(in.string("set_value")),
		&client.CheckAndSetOptions{TTL: time.Duration(ttl) * time.Second, ReturnCheckValue: in.bool("return_check_value")})
	if err != nil {
		return err
	}
	if in.json {
		out := struct {
			SetSucceed         bool   `json:"set_succeed"`
			CheckValueReturned bool   `json:"check_value_returned"`
			CheckValueExist    bool   `json:"check_value_exist,omitempty"`
			CheckValue         jbytes `json:"check_value,omitempty"`
		}{res.Applied, res.CheckValueReturned, res.CheckValueExists, res.CheckValue}
		return writeJSON(in.out, out)
	}
	if res.Applied {
		fmt.Fprintln(in.out, "Set succeed.")
	} else {
		fmt.Fprintln(in.out, "Set failed, because check not passed.")
	}
	if res.CheckValueReturned {
		if res.CheckValueExists {
			fmt.Fprintf(in.out, "\nCheck value: %s\n", escape(res.CheckValue))
		} else {
			fmt.Fprintln(in.out, "\nCheck value not exist.")
		}
	}
	return nil
})

var multiSetCommand = dataCommand(&command{
	name:    "multi_set",
	args:    "<hash_key> <sort_key> <value> [sort_key value...]",
	summary: "write several records of one hash key atomically",
	minArgs: 3, maxArgs: -1,
	flags: []flagSpec{
		{long: "ttl", short: "l", kind: intFlag, def: "0", metavar: "SECONDS", usage: "time to live of every record (0: none)"},
	},
}, func(ctx context.Context, t DataTable, in *invocation) error {
	if len(in.args)%2 != 1 {
		return in.cmd.usageError("every sort key needs a value")
	}
	ttl := in.int("ttl")
	if ttl < 0 {
		return in.cmd.usageError("ttl must be a number of seconds (0 or more)")
	}
	seen := make(map[string]bool)
	var kvs []client.KeyValue
	for i := 1; i < len(in.args); i += 2 {
		if seen[in.args[i]] {
			return in.cmd.usageError("duplicate sort key " + escape([]byte(in.args[i])))
		}
		seen[in.args[i]] = true
		kvs = append(kvs, client.KeyValue{SortKey: []byte(in.args[i]), Value: []byte(in.args[i+1])})
	}
	if err := t.MultiSet(ctx, []byte(in.args[0]), kvs, time.Duration(ttl)*time.Second); err != nil {
		return err
	}
	return printOK(in)
})

var multiDelCommand = dataCommand(&command{
	name:    "multi_del",
	args:    "<hash_key> <sort_key> [sort_key...]",
	summary: "delete several records of one hash key atomically",
	minArgs: 2, maxArgs: -1,
}, func(ctx context.Context, t DataTable, in *invocation) error {
	var sortKeys [][]byte
	for _, sk := range in.args[1:] {
		sortKeys = append(sortKeys, []byte(sk))
	}
	if err := t.MultiDel(ctx, []byte(in.args[0]), sortKeys); err != nil {
		return err
	}
	if in.json {
		return writeJSON(in.out, struct {
			Deleted int `json:"deleted"`
		}{len(sortKeys)})
	}
	// Like Pegasus: the count is of the sort keys named, present or not.
	_, err := fmt.Fprintf(in.out, "%d key-value pairs deleted.\n", len(sortKeys))
	return err
})
