package redisproxy

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/netguard"
)

// Two connections whose large commands grow their buffers together must not
// each hold part of the budget while waiting for the rest: one of them has
// to finish. Reserving the growth in steps did exactly that (A held 112 KiB,
// B 48 KiB of a 160 KiB budget, both waited for more, forever), which the
// server test TestBufferedBytesBudget hit under load.
func TestGrowingReadersDoNotDeadlockOnTheBudget(t *testing.T) {
	budget := netguard.NewBudget(160 << 10)
	const maxRequest = 150 << 10
	value := strings.Repeat("v", 140<<10)
	cmd := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(len(value)) + "\r\n" + value + "\r\n"

	type result struct {
		n   int
		err error
	}
	start := func() (*io.PipeWriter, *respReader, chan result) {
		pr, pw := io.Pipe()
		r := newRespReader(context.Background(), pr, maxRequest, budget)
		done := make(chan result, 1)
		go func() {
			batch, err := r.readBatch()
			done <- result{len(batch), err}
		}()
		return pw, r, done
	}
	wa, ra, doneA := start()
	wb, rb, doneB := start()
	defer wa.Close()
	defer wb.Close()

	// A write on a pipe returns once the reader has taken every byte, so
	// after these two A's buffer is 128 KiB and B's 64 KiB.
	if _, err := wa.Write([]byte(cmd[:100<<10])); err != nil {
		t.Fatal(err)
	}
	if _, err := wb.Write([]byte(cmd[:40<<10])); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = wa.Write([]byte(cmd[100<<10:])) }()
	go func() { _, _ = wb.Write([]byte(cmd[40<<10:])) }()

	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case res := <-doneA:
			if res.err != nil || res.n != 1 {
				t.Fatalf("A: %d commands, %v", res.n, res.err)
			}
			ra.close() // what the server does once a command is answered
		case res := <-doneB:
			if res.err != nil || res.n != 1 {
				t.Fatalf("B: %d commands, %v", res.n, res.err)
			}
			rb.close()
		case <-deadline:
			t.Fatal("both readers wait for budget that the other holds")
		}
	}
}
