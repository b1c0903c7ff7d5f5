package onebox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Meta servers resolve in a documented order: --meta, --onebox DIR,
// $PEGASUS_META_SERVERS, ./onebox, the default.
func TestEndpointsOrder(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	resolve := func(e Endpoints) ([]string, string) {
		t.Helper()
		e.Getenv = getenv
		list, from, err := e.MetaServers()
		if err != nil {
			t.Fatal(err)
		}
		return list, from
	}
	if list, from := resolve(Endpoints{}); !reflect.DeepEqual(list, []string{DefaultMetaServer}) {
		t.Fatalf("nothing given: %v from %s", list, from)
	}
	if err := os.MkdirAll("onebox", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("onebox", metaServersFile), []byte("127.0.0.1:1, 127.0.0.1:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if list, _ := resolve(Endpoints{}); !reflect.DeepEqual(list, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Fatalf("./onebox: %v", list)
	}
	env[MetaServersEnv] = "10.0.0.1:34601,10.0.0.2:34601"
	if list, from := resolve(Endpoints{}); !reflect.DeepEqual(list, []string{"10.0.0.1:34601", "10.0.0.2:34601"}) || from != MetaServersEnv {
		t.Fatalf("env: %v from %s", list, from)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, metaServersFile), []byte("127.0.0.1:9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if list, _ := resolve(Endpoints{OneboxDir: other}); !reflect.DeepEqual(list, []string{"127.0.0.1:9"}) {
		t.Fatalf("--onebox: %v", list)
	}
	if list, _ := resolve(Endpoints{OneboxDir: other, Meta: []string{"127.0.0.1:7"}}); !reflect.DeepEqual(list, []string{"127.0.0.1:7"}) {
		t.Fatalf("--meta: %v", list)
	}
	_, _, err := Endpoints{OneboxDir: t.TempDir(), Getenv: getenv}.MetaServers()
	if !errors.Is(err, ErrNoOnebox) {
		t.Fatalf("--onebox of an empty directory: %v", err)
	}
}
