package onebox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MetaServersEnv names the environment variable that gives every command
// of the binary its meta servers when no flag does, as etcdctl's
// ETCDCTL_ENDPOINTS does: comma-separated host:port gRPC addresses.
const MetaServersEnv = "PEGASUS_META_SERVERS"

// DefaultMetaServer is the meta server used when nothing else names one:
// Pegasus' default meta port on this machine.
const DefaultMetaServer = "127.0.0.1:34601"

// ReadMetaServers returns the meta server list a onebox in dir wrote to
// dir/meta_servers. It is the one reader of that file. A directory without
// the file is ErrNoOnebox.
func ReadMetaServers(dir string) ([]string, error) {
	path := filepath.Join(dir, metaServersFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (is the onebox started with --dir %s?)", ErrNoOnebox, dir, metaServersFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	list := SplitAddrs(string(data))
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadState, path)
	}
	return list, nil
}

// SplitAddrs splits a comma-separated address list, dropping blanks.
func SplitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Endpoints is how a command was told where the cluster is.
type Endpoints struct {
	// Meta is --meta, empty when not given.
	Meta []string
	// OneboxDir is --onebox DIR, empty when not given.
	OneboxDir string
	// Getenv reads the environment (default os.Getenv); tests replace it.
	Getenv func(string) string
}

// MetaServers resolves the meta servers, first match wins: --meta; the
// onebox of --onebox DIR (an error when it has none); $PEGASUS_META_SERVERS;
// the onebox in ./onebox; DefaultMetaServer. from says which one answered,
// for error messages and -v output.
func (e Endpoints) MetaServers() (metas []string, from string, err error) {
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if list := SplitAddrs(strings.Join(e.Meta, ",")); len(list) > 0 {
		return list, "--meta", nil
	}
	if e.OneboxDir != "" {
		list, err := ReadMetaServers(e.OneboxDir)
		if err != nil {
			return nil, "", err
		}
		return list, "--onebox " + e.OneboxDir, nil
	}
	if list := SplitAddrs(getenv(MetaServersEnv)); len(list) > 0 {
		return list, MetaServersEnv, nil
	}
	if list, err := ReadMetaServers(DefaultDir); err == nil {
		return list, DefaultDir + "/" + metaServersFile, nil
	}
	return []string{DefaultMetaServer}, "the default " + DefaultMetaServer, nil
}

// writeMetaServers writes the comma-separated meta server list that the
// shell and other tools read by default.
func (c *Cluster) writeMetaServers() error {
	return writeFileAtomic(filepath.Join(c.dir, metaServersFile), []byte(strings.Join(c.MetaAddrs(), ",")+"\n"))
}
