package replica

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A data_dir records the formats it holds; one holding a format this
// binary does not read (a rollback past the release that wrote it) keeps
// the server from starting, with the reason.
func TestDataFormatsAreRecordedAndChecked(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkDataFormats(fs, "/d"); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open("/d/" + formatFileName)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if got := strings.TrimSpace(string(data)); got != `{"log":1,"store":1}` {
		t.Fatalf("marker %s", got)
	}
	w, _ := fs.Create("/d/"+formatFileName, vfs.WriteCategoryUnspecified)
	w.Write([]byte(`{"log":1,"store":2}`))
	w.Close()
	err = checkDataFormats(fs, "/d")
	if !errors.Is(err, ErrDataFormat) || !strings.Contains(err.Error(), "store format 2, this binary reads 1-1") {
		t.Fatalf("newer store format: %v", err)
	}
}
