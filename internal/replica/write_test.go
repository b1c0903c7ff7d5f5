package replica

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

func TestResultCacheEvictsOldest(t *testing.T) {
	c := newResultCache(2)
	id := func(n uint64) pacifica.RequestID { return pacifica.RequestID{ClientID: 1, Seq: n} }
	c.put(id(1), writeResult{decree: 10, newValue: 1})
	c.put(id(2), writeResult{decree: 11, newValue: 2})
	c.put(pacifica.RequestID{}, writeResult{decree: 12}) // no identity: never cached
	if r, ok := c.get(id(1), 10); !ok || r.newValue != 1 {
		t.Fatalf("id 1 lost before the cache filled: %+v %v", r, ok)
	}
	if _, ok := c.get(id(1), 9); ok {
		t.Fatal("a result was returned for another decree of the same id")
	}
	c.put(id(3), writeResult{decree: 13, newValue: 3})
	if _, ok := c.get(id(1), 10); ok {
		t.Fatal("oldest result not evicted")
	}
	// Id 2 applied again later (a retry after the dedup window): evicting
	// the old slot must not drop the newer result.
	c.put(id(2), writeResult{decree: 14, newValue: 4})
	c.put(id(4), writeResult{decree: 15})
	if r, ok := c.get(id(2), 14); !ok || r.newValue != 4 {
		t.Fatalf("newer result of a reused id evicted with the old slot: %+v %v", r, ok)
	}
	big := writeResult{decree: 16, cas: &pb.CheckAndSetResponse{CheckValue: make([]byte, maxCachedResultBytes+1)}}
	c.put(id(5), big)
	if _, ok := c.get(id(5), 16); ok {
		t.Fatal("an oversized result was cached")
	}
}

func TestResultOf(t *testing.T) {
	ops := []storage.WriteOp{storage.Incr{HashKey: []byte("h"), Delta: 1}}
	res := resultOf(4, ops, []storage.OpResult{{NewValue: 42}})
	if res.decree != 4 || res.newValue != 42 || res.err != nil {
		t.Fatalf("incr result %+v", res)
	}
	cas := []storage.WriteOp{storage.CheckAndSet{HashKey: []byte("h"), ReturnCheckValue: true}}
	res = resultOf(5, cas, []storage.OpResult{{CheckPassed: true, CheckValueExist: true, CheckValue: []byte("old")}})
	if !res.cas.GetSetSucceed() || !res.cas.GetCheckValueReturned() || string(res.cas.GetCheckValue()) != "old" {
		t.Fatalf("check_and_set result %+v", res.cas)
	}
	res = resultOf(6, ops, []storage.OpResult{{Err: storage.ErrIncrNotInteger}})
	if res.err != storage.ErrIncrNotInteger {
		t.Fatalf("op failure lost: %+v", res)
	}
}
