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
