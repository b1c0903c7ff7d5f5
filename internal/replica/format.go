package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/pegasus-go/pegasus/internal/version"
)

// formatFileName is the marker in data_dir naming the on-disk formats of
// what the directory holds (the mutation logs and the stores of its
// replicas).
const formatFileName = "FORMAT"

// checkDataFormats refuses a data_dir holding a log or store format this
// binary does not read (a rollback to a binary older than the data), then
// records the formats the directory holds from now on: the newer of what
// it held and what this binary writes, since data written earlier in a
// newer format stays.
func checkDataFormats(fs vfs.FS, dir string) error {
	held := map[string]int{}
	f, err := fs.Open(fs.PathJoin(dir, formatFileName))
	switch {
	case err == nil:
		data, rerr := io.ReadAll(io.LimitReader(f, 4096))
		_ = f.Close()
		if rerr != nil {
			return fmt.Errorf("replica: read %s: %w", formatFileName, rerr)
		}
		if err := json.Unmarshal(data, &held); err != nil {
			return errorf(ErrCorruptInfo, "%s: %v", fs.PathJoin(dir, formatFileName), err)
		}
	case !isNotExist(err):
		return fmt.Errorf("replica: open %s: %w", formatFileName, err)
	}
	next := map[string]int{}
	for _, name := range []string{version.FormatLog, version.FormatStore} {
		mine := version.FormatOf(name)
		if v, ok := held[name]; ok && !mine.Reads(v) {
			return errorf(ErrDataFormat, "%s holds %s format %d, this binary reads %d-%d: run a binary that reads it",
				dir, name, v, mine.ReadsFrom, mine.Writes)
		}
		next[name] = max(held[name], mine.Writes)
	}
	if fmt.Sprint(next) == fmt.Sprint(held) {
		return nil
	}
	data, _ := json.Marshal(next)
	tmp := fs.PathJoin(dir, formatFileName+".tmp")
	w, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("replica: write %s: %w", formatFileName, err)
	}
	_, err = w.Write(append(data, '\n'))
	if err == nil {
		err = w.Sync()
	}
	err = errors.Join(err, w.Close())
	if err == nil {
		err = fs.Rename(tmp, fs.PathJoin(dir, formatFileName))
	}
	if err == nil {
		err = syncDir(fs, dir)
	}
	if err != nil {
		return fmt.Errorf("replica: write %s: %w", formatFileName, err)
	}
	return nil
}
