package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/pegasus-go/pegasus/client"
)

// The examples need a running cluster, so they are compiled but not run.

func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{
		MetaServers: []string{"127.0.0.1:34601", "127.0.0.1:34602", "127.0.0.1:34603"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	users, err := c.Open(ctx, "users")
	if err != nil {
		log.Fatal(err)
	}

	// Every operation takes a context; its deadline bounds all retries.
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = users.Set(opCtx, []byte("user:42"), []byte("name"), []byte("Ada"), 0)
	switch {
	case errors.Is(err, client.ErrUnknownOutcome):
		// The write may or may not have happened: read it back to find out.
	case err != nil:
		log.Fatal(err)
	}

	name, found, err := users.Get(opCtx, []byte("user:42"), []byte("name"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(name), found)
}

func ExampleTable_CheckAndSet() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{MetaServers: []string{"127.0.0.1:34601"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	accounts, err := c.Open(ctx, "accounts")
	if err != nil {
		log.Fatal(err)
	}

	// Create the record only if it does not exist yet.
	res, err := accounts.CheckAndSet(ctx, []byte("acct:7"),
		client.Check{SortKey: []byte("owner"), Type: client.CheckValueNotExist},
		[]byte("owner"), []byte("ada"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", res.Applied)
}

func ExampleTable_Scan() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{MetaServers: []string{"127.0.0.1:34601"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	events, err := c.Open(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}

	// All events of one device in March, 500 per round trip.
	sc := events.Scan(ctx, []byte("device:9"), []byte("2026-03-01"), []byte("2026-04-01"),
		&client.ScanOptions{BatchSize: 500})
	for sc.Next() {
		rec := sc.Record()
		fmt.Printf("%s %s\n", rec.SortKey, rec.Value)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
}
