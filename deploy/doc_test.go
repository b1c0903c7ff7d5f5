// Package deploy holds the deployment files (systemd units, example
// configurations, Kubernetes manifests, the Grafana dashboard) and the tests
// that keep them true to the binary: every command they run exists with the
// flags they pass, every configuration loads, every manifest decodes
// strictly into the Kubernetes API types.
package deploy

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }
