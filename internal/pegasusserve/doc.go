// Package pegasusserve serves the Apache Pegasus client protocol, so that
// the official Pegasus clients (Go, Java) work against our cluster
// unchanged. It is a translating listener: it speaks Pegasus frames on a
// TCP port (the pegasus_listen address of a meta or replica server) and
// our own gRPC services behind it, on the server's local gRPC address. It
// knows nothing of the servers' internals, so requests from Pegasus
// clients meet exactly the checks, replication and limits that requests
// from our own client meet, and data written through either protocol reads
// back identically through the other.
//
// # Shape
//
//	Pegasus client ──TCP, THFT frames──▶ Listener ──▶ Handler
//	                                                    │
//	            ReplicaHandler: ReplicaClient.Data stream (loopback gRPC)
//	            MetaHandler:    Meta.QueryConfig, ListNodes, ClusterInfo
//
// Listener (listener.go, conn.go) owns the wire: frames in, one goroutine
// per request up to a bound per connection, responses out in completion
// order (clients match them by sequence id). A frame that breaks the
// framing closes that connection only, logged once; a body that does not
// decode is answered with an error code. It uses pegasusrpc for every byte.
//
// ReplicaHandler (replica.go and the files of each kind of request) maps
// each rrdb RPC to requests on one long-lived Data stream to the local
// replica server (backend.go), the same path our Go client takes. What the
// Pegasus protocol keeps on the server and ours does not is kept here:
// scanner contexts between get_scanner and scan (scan.go,
// scancontexts.go). Pegasus' absolute expire times become our relative
// TTLs (expire.go); filters our replica lacks are applied to what it
// returns (filter.go).
//
// MetaHandler (meta.go) answers RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX from
// the local meta server, naming each server by its Pegasus address, which
// the servers report to the meta server (addressbook.go).
//
// errmap.go is the one place where our error codes become Pegasus ones.
//
// # Errors, as Pegasus clients see them
//
// Pegasus has two error channels: the rpc-level error name of each
// response, which drives the clients' routing, and the storage status in
// the response struct (RocksDB codes), which they turn into results. Our
// "not primary here" codes become ERR_OBJECT_NOT_FOUND, on which both
// official clients re-query the meta server and retry until their
// deadline; momentary refusals (ERR_BUSY and the like) are retried here
// at the replica while the client waits, since Pegasus clients would give
// up on them at once; a request that may have executed without an answer
// is ERR_TIMEOUT; invalid arguments are InvalidArgument in the response.
//
// # Ordering
//
// Requests of one connection run concurrently, as they do for different
// partitions on a C++ server. A client that needs one request to follow
// another waits for the first one's response, as the official clients do.
//
// # Wiring
//
// StartReplicaListener and StartMetaListener bind the port, serve until
// their context ends or they are closed, and close their handler.
package pegasusserve
