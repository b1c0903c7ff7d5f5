package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// --onebox DIR stands for --control onebox:DIR: the roll takes the
// onebox's meta servers and controls its processes.
func TestRollingOneboxFlag(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meta_servers"), []byte("127.0.0.1:1,127.0.0.1:2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &rollingFlags{oneboxDir: dir}
	w, err := f.where()
	if err != nil {
		t.Fatal(err)
	}
	if w.Control != "onebox:"+dir {
		t.Fatalf("control %q, want onebox:%s", w.Control, dir)
	}
	metas, err := w.MetaList(nil)
	if err != nil || !slices.Equal(metas, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Fatalf("meta servers %v, %v", metas, err)
	}
}
