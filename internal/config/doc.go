package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Markdown renders docs/configuration.md: every key of every role with its
// default and meaning, taken from the structs themselves so the page cannot
// drift from the code.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Configuration

Every server role reads one TOML file (` + "`--config FILE`" + `) holding flat ` + "`key = value`" + `
lines; flags given on the command line override the file, and keys not set anywhere keep the
defaults below. Unknown keys are rejected at start-up, so a typo cannot pass unnoticed. Names
follow Apache Pegasus' config.ini where Pegasus has the same concept.

This page is generated from the code (` + "`go test ./internal/config -update`" + `).

## Leases and grace

` + "`fd_lease_seconds`" + ` and ` + "`fd_grace_seconds`" + ` set both the failure detector and the
read leases. A primary with members holds its read lease from them, not from the meta server
(PacificA's design): it may serve a read only while every member acknowledged, less than
` + "`fd_lease_seconds`" + ` ago by the primary's clock, a message it sent. A member that accepts a
primary's message promises, for ` + "`fd_grace_seconds`" + ` on its own clock, to help no other
primary; a new primary commits and serves nothing until every such promise to an older primary
has run out, or that primary acknowledged the new ballot (a graceful handover takes one round
trip). So reads and writes need neither the meta server nor etcd while no configuration has
to change, and no configuration that excludes a replica which may still hold a lease commits
anything before that lease is over. Only a primary without members serves reads on its lease
from the meta server. Every lease, promise and timeout runs on the monotonic clock: stepping
the wall clock changes none of them. Keep the grace above the lease with a margin (clocks of
two machines run at slightly different rates), and ` + "`group_check_interval_ms`" + ` well below the
lease (idle primaries renew their lease with it).
`)
	section(&b, "meta", "`pegasus meta`: the meta server.", DefaultMeta())
	section(&b, "replica", "`pegasus replica`: the replica server.", DefaultReplica())
	section(&b, "collector", "`pegasus collector`: the availability collector.", DefaultCollector())
	return b.String()
}

func section(b *strings.Builder, name, title string, defaults any) {
	fmt.Fprintf(b, "\n## %s\n\n%s\n\n| key | default | meaning |\n| --- | --- | --- |\n", name, title)
	walk(reflect.ValueOf(defaults), func(key, doc string, v reflect.Value) {
		fmt.Fprintf(b, "| `%s` | `%s` | %s |\n", key, formatDefault(v), doc)
	})
}

// walk visits every tagged field, descending into embedded structs.
func walk(v reflect.Value, visit func(key, doc string, v reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			walk(v.Field(i), visit)
			continue
		}
		key := f.Tag.Get("toml")
		if key == "" || key == "-" {
			continue
		}
		visit(key, f.Tag.Get("doc"), v.Field(i))
	}
}

func formatDefault(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprintf("%q", v.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(v.Interface())
	}
}
