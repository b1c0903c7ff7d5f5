//go:build darwin || freebsd || netbsd || openbsd

package rolling

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal; see terminal_linux.go.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TIOCGETA)
	return err == nil
}
