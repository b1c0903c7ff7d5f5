package rolling

import (
	"os"
	"testing"
)

func TestIsTerminalRejectsDevNullAndFiles(t *testing.T) {
	for _, path := range []string{os.DevNull, os.Args[0]} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if IsTerminal(f) {
			t.Errorf("%s taken for a terminal", path)
		}
		f.Close()
	}
}
