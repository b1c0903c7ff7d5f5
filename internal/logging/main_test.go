package logging

import (
	"testing"

	"go.uber.org/goleak"
)

// No goroutine may outlive the tests but lumberjack's file-cleanup
// goroutine, which its Close does not stop (one per log file, for the life
// of the process; a server opens one).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))
}
