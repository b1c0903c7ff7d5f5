package version

import (
	"fmt"
	"strconv"
	"strings"
)

// On-disk formats. Every durable thing a server writes has a format
// version: the mutation log, the partition store, and the meta server's
// records in etcd. A binary writes one version of each and reads a range
// of them; a new version is introduced in two releases (first read, then
// write) so that a roll can always go back one release. A rollback to a
// binary that cannot read what the newer one has written is refused before
// anything is touched (the rolling planner compares the two binaries'
// `pegasus version`), and a server refuses to start on data whose format it
// does not read rather than misread it.
//
// These are set at link time like the protocol version, e.g.
//
//	go build -ldflags "-X github.com/pegasus-go/pegasus/internal/version.storeFormat=2"
//
// to build a test binary that writes a newer store format.
var (
	logFormat      = "1"
	logReadsFrom   = "1"
	storeFormat    = "1"
	storeReadsFrom = "1"
	metaFormat     = "1"
	metaReadsFrom  = "1"
)

// Format is one on-disk format as a binary handles it: it writes Writes
// and reads every version from ReadsFrom to Writes.
type Format struct {
	Name      string
	Writes    int
	ReadsFrom int
}

// Reads reports whether a binary with f reads version v.
func (f Format) Reads(v int) bool { return v >= f.ReadsFrom && v <= f.Writes }

// String is the line `pegasus version` prints, parsed by ParseFormat.
func (f Format) String() string {
	return fmt.Sprintf("%s %d (reads %d-%d)", f.Name, f.Writes, f.ReadsFrom, f.Writes)
}

// Format names.
const (
	FormatLog   = "log"
	FormatStore = "store"
	FormatMeta  = "meta"
)

// Formats returns this binary's on-disk formats.
func Formats() []Format {
	mk := func(name, writes, from string) Format {
		w, err1 := strconv.Atoi(writes)
		r, err2 := strconv.Atoi(from)
		if err1 != nil || err2 != nil || w < 1 || r < 1 || r > w {
			panic(fmt.Sprintf("version: bad %s format %q (reads from %q)", name, writes, from)) // bad -ldflags only
		}
		return Format{Name: name, Writes: w, ReadsFrom: r}
	}
	return []Format{
		mk(FormatLog, logFormat, logReadsFrom),
		mk(FormatStore, storeFormat, storeReadsFrom),
		mk(FormatMeta, metaFormat, metaReadsFrom),
	}
}

// FormatOf returns this binary's format called name.
func FormatOf(name string) Format {
	for _, f := range Formats() {
		if f.Name == name {
			return f
		}
	}
	panic("version: unknown format " + name)
}

// ParseFormat reads a Format.String line ("store 2 (reads 1-2)").
func ParseFormat(s string) (Format, error) {
	var f Format
	var to int
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%s %d (reads %d-%d)", &f.Name, &f.Writes, &f.ReadsFrom, &to); err != nil || to != f.Writes {
		return Format{}, fmt.Errorf("version: format %q is not \"<name> <writes> (reads <from>-<writes>)\"", s)
	}
	return f, nil
}

// RollbackBlocked says why a binary with formats old cannot take over the
// data a binary with formats cur has written: a format cur writes that old
// does not read. Empty when it can. A format old does not know at all is
// taken as unreadable.
func RollbackBlocked(cur, old []Format) string {
	var why []string
	for _, c := range cur {
		found := false
		for _, o := range old {
			if o.Name != c.Name {
				continue
			}
			found = true
			if !o.Reads(c.Writes) {
				why = append(why, fmt.Sprintf("the new binary writes %s format %d, the previous one reads %d-%d",
					c.Name, c.Writes, o.ReadsFrom, o.Writes))
			}
		}
		if !found {
			why = append(why, fmt.Sprintf("the previous binary does not know the %s format", c.Name))
		}
	}
	return strings.Join(why, "; ")
}
