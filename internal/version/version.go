// Package version reports what a binary is: its release, the commit it was
// built from and the protocol version it speaks.
//
// The protocol version decides who may talk to whom during a rolling
// upgrade. Servers exchange it in beacons and in gRPC metadata. A minor bump
// marks an additive change (new optional fields or RPCs) that old and new
// servers can run side by side for the length of a roll; a major bump needs
// a stop-the-world migration. Two rules follow, each in one place here:
// CompatibleWith decides which servers may form one cluster (the meta
// server's admission of replica servers and the rolling planner both use
// it), WireCompatible which callers a server answers at all.
package version

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// These are set at link time, e.g.
//
//	go build -ldflags "-X github.com/pegasus-go/pegasus/internal/version.commit=$(git rev-parse HEAD)"
//
// A build from a git checkout needs none of this: the Go toolchain records
// the commit and its time, which Commit and BuildTime read. Builds without
// the .git directory (a container build context, -buildvcs=false) set
// commit and buildTime this way.
// protocolMinor can be bumped the same way to build an upgrade candidate.
//
// Protocol history (each minor version runs side by side with the one
// before it for the length of a roll):
//
//	1.0  the first release.
//	1.1  read leases from members, member ballots, replica incarnations:
//	     additive fields (replica reports, peer messages, proposals, beacon
//	     removals with ballots) and the DDDDiagnose RPC. A 1.1 primary whose
//	     members include a 1.0 server, which grants no lease, serves reads
//	     on the meta server's lease as 1.0 did; a 1.0 meta server's
//	     removals are checked against the replica's role only.
var (
	release       = "0.1.0"
	commit        = ""
	buildTime     = ""
	protocolMajor = "1"
	protocolMinor = "1"
)

// Protocol history (minor bumps only; each runs beside the previous one
// for the length of a roll):
//
//	1.0  first release
//	1.1  cluster id on every meta <-> replica message and peer stream; a
//	     replica server that has not joined a cluster still obeys a 1.0
//	     meta server, so replica servers may be upgraded first

// Protocol is a protocol version: major.minor.
type Protocol struct {
	Major, Minor int
}

// String formats the version as "major.minor".
func (p Protocol) String() string { return fmt.Sprintf("%d.%d", p.Major, p.Minor) }

// CompatibleWith reports whether servers speaking p and o may run in one
// cluster at the same time: the same major version and minor versions at
// most one apart. The second part is what keeps a roll from ever mixing
// three protocol generations, so every change need only be compatible with
// its direct predecessor; it also means a roll goes one minor at a time
// (1.0 to 1.2 is two rolls) and a rollback one minor back. The meta server
// admits replica servers by this rule and the rolling planner refuses an
// upgrade that breaks it with any running server, so a roll the planner
// accepts is never refused half-way.
func (p Protocol) CompatibleWith(o Protocol) bool {
	if p.Major != o.Major {
		return false
	}
	d := p.Minor - o.Minor
	return d >= -1 && d <= 1
}

// WireCompatible reports whether a server speaking p answers a caller
// speaking o: the same major version, whatever the minors. Minor changes
// are additive on the wire, so a client of another minor version still
// talks to the cluster; only cluster membership (CompatibleWith) is
// stricter.
func (p Protocol) WireCompatible(o Protocol) bool { return p.Major == o.Major }

// ParseProtocol parses "major.minor".
func ParseProtocol(s string) (Protocol, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return Protocol{}, fmt.Errorf("version: protocol %q is not major.minor", s)
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Protocol{}, fmt.Errorf("version: protocol %q is not major.minor", s)
	}
	return Protocol{Major: a, Minor: b}, nil
}

// Current is the protocol version this binary speaks.
func Current() Protocol {
	p, err := ParseProtocol(protocolMajor + "." + protocolMinor)
	if err != nil {
		panic(err) // only a bad -ldflags value gets here
	}
	return p
}

// Release is the release version of this binary.
func Release() string { return release }

// Commit is the git commit this binary was built from: the -ldflags value,
// else the revision the Go toolchain recorded when building from a git
// checkout (with "-dirty" when the tree had uncommitted changes), else
// "unknown" (e.g. built with -buildvcs=false).
func Commit() string {
	if commit != "" {
		return commit
	}
	rev, dirty := vcsSetting("vcs.revision"), vcsSetting("vcs.modified") == "true"
	switch {
	case rev == "":
		return "unknown"
	case dirty:
		return rev + "-dirty"
	}
	return rev
}

// BuildTime is when the commit was made, as the Go toolchain records it
// (vcs.time, RFC 3339, UTC), or -ldflags' buildTime, or "unknown".
func BuildTime() string {
	if buildTime != "" {
		return buildTime
	}
	if t := vcsSetting("vcs.time"); t != "" {
		return t
	}
	return "unknown"
}

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }

func vcsSetting(key string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Info is what a binary reports about itself: `pegasus version`, every
// server's server-info and the build_info metric.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"git_sha"`
	BuildTime string `json:"build_time"`
	GoVersion string `json:"go_version"`
	Protocol  string `json:"protocol_version"`
	// Formats are the on-disk formats it writes and reads (see Formats).
	Formats []string `json:"formats,omitempty"`
}

// Get returns this binary's Info.
func Get() Info {
	info := Info{Version: Release(), Commit: Commit(), BuildTime: BuildTime(), GoVersion: GoVersion(), Protocol: Current().String()}
	for _, f := range Formats() {
		info.Formats = append(info.Formats, f.String())
	}
	return info
}

// String is the one-line description printed by `pegasus --version` and
// reported in beacons.
func String() string {
	return fmt.Sprintf("pegasus %s (commit %s, built %s, protocol %s)", Release(), Commit(), BuildTime(), Current())
}

// Write prints Info as `pegasus version` does: aligned lines, or JSON.
func Write(w io.Writer, asJSON bool) error {
	info := Get()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	if _, err := fmt.Fprintf(w, "version:    %s\ncommit:     %s\nbuild time: %s\ngo:         %s\nprotocol:   %s\n",
		info.Version, info.Commit, info.BuildTime, info.GoVersion, info.Protocol); err != nil {
		return err
	}
	// One line per format: a rolling upgrade reads them to refuse a
	// rollback that could not read what the new binary wrote.
	for _, f := range info.Formats {
		if _, err := fmt.Fprintf(w, "format:     %s\n", f); err != nil {
			return err
		}
	}
	return nil
}
