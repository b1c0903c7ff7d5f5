package collector

import (
	"testing"

	"go.uber.org/goleak"
)

// The package owns goroutines: none may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
