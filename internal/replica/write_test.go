package replica

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/storage"
)

func TestResultOf(t *testing.T) {
	res := resultOf(4, []storage.OpResult{{Kind: storage.OpIncr, NewValue: 42}})
	if res.decree != 4 || res.newValue != 42 || res.err != nil || res.cas != nil {
		t.Fatalf("incr result %+v", res)
	}
	res = resultOf(5, []storage.OpResult{{Kind: storage.OpCheckAndSet, CheckPassed: true, CheckValueReturned: true,
		CheckValueExist: true, CheckValue: []byte("old")}})
	if !res.cas.GetSetSucceed() || !res.cas.GetCheckValueReturned() || string(res.cas.GetCheckValue()) != "old" {
		t.Fatalf("check_and_set result %+v", res.cas)
	}
	res = resultOf(6, []storage.OpResult{{Kind: storage.OpIncr, Err: storage.ErrIncrNotInteger}})
	if res.err != storage.ErrIncrNotInteger {
		t.Fatalf("op failure lost: %+v", res)
	}
	if res := resultOf(7, []storage.OpResult{{Kind: storage.OpPut}}); res.err != nil || res.cas != nil || res.newValue != 0 {
		t.Fatalf("put result %+v", res)
	}
}
