package rolling

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal: only then may the roll ask
// for confirmation or rewrite its status line in place. A character device
// is not enough (/dev/null is one); a terminal answers the termios ioctl.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
