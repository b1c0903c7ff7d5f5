// Package sim is a deterministic simulation of a whole cluster, in the
// FoundationDB style: two meta servers, etcd, three to five replica servers
// and their clients run in one goroutine from a seed, over a simulated
// network, disks and clocks, under a fault schedule, while a workload of
// registers and counters is checked for linearizability, lost writes and
// exactly-once execution, and invariants are checked after every step.
// Every run replays exactly from its seed.
//
//	go test ./internal/sim                                   # CI: a fixed set of seeds
//	go test ./internal/sim -run 'TestSim$' -seeds 10000 -timeout 0   # a long run, with a fault matrix
//	go test ./internal/sim -run 'TestSim$' -seed 2 -simv     # replay one seed, printing every event
//	go test ./internal/sim -run TestHole -holes              # also the schedules skipped until their fixes merge
//
// # What is real and what is modelled
//
// Real (the production code, called, not copied):
//   - every replica's replication core, internal/pacifica.Replica;
//   - the meta server's driver, internal/meta.Controller, with its decision
//     core (failure detector, guardian, balancer, drains), its proposal
//     checks and its compare-and-swap writes to a meta.MemStore, fenced by
//     leadership term; pushes leave through its PushSink;
//   - the replica server's rules that internal/replica exports for this:
//     recovery on open (RecoverCore: replay past the durable decree, the
//     persisted HardState, the request-id table rebuilt from the log), the
//     lease from the meta server (Lease, GrantedLease), how configurations
//     reach a core (ApplyConfig) and which ones may create an empty replica
//     (ConfigCreates), when a removal must not be carried out
//     (RemovalRefused), the core's tuning (CoreConfig: incarnation, lease,
//     grace), the log record format (LogRecords, DecodeLogEntry), wire
//     error codes (WireError); the log's supersede rules (mutlog.Effective);
//     reads are checked by the core's ReadState with the time of the read;
//   - the linearizability checker (internal/bench, porcupine).
//
// Modelled (see the file named):
//   - the replica server's plumbing around those rules, goroutines turned
//     into events (replsrv.go, partition.go, replclient.go): the Ready
//     contract, log appends completing after a disk latency, applying,
//     replies and the request records (requests.go), proposals, log reads and checkpoint
//     copies for learners, removal and creation of replicas, flushes and
//     log GC, kill_partition;
//   - the network (network.go): delay, jitter and stalls, drops and
//     duplicates, directed links cut for partial, asymmetric and one-way
//     partitions; a restarted process loses its connections;
//   - disks (disk.go): the log keeps what was synced plus a torn prefix of
//     the rest; the store keeps its durable decree (flushes); the ballot is
//     synced at once;
//   - clocks (clock.go): per host, with drift, wall-clock steps apart from
//     the monotonic face, and pauses that make timers fire late;
//   - etcd (etcd.go): the metadata store's availability and the election
//     (sessions with a TTL, keepalives, campaign order, the lease guard);
//   - clients (client.go): the client package's retry loop and rules
//     (ClientRules, checked against client/errors.go by a test there);
//   - storage (ops.go): a map with put, incr and check_and_set.
//
// Not modelled: Pebble and the mutation log's files (their own packages
// test them, with crash and torn-write injection); gRPC itself (a
// connection's message ordering, flow control, keepalives); CPU and memory
// exhaustion; the replica server's bounded queues (ERR_BUSY); table DDL,
// partition split, bulk load, duplication, TTLs and scans; the collector,
// the shell and the rolling-update orchestrator; the real etcd's Raft and
// its request latency (a store call fails at once while etcd is out of
// reach, where a real client would wait out its deadline); a clock step on
// a meta server (its controller reads a monotonic clock here).
//
// # Checks
//
// See check.go for the invariants checked while the run goes (one primary
// writing per ballot, acknowledged writes held durably by every member,
// no read served by a deposed primary after a newer ballot committed, one
// applied history, each request id applied once) and history.go for the
// end-of-run judgement: porcupine over the registers, and for counters
// acknowledged <= final <= acknowledged + unknown, no value produced twice.
//
// # Where the code under test meets the simulation
//
// The drivers here are thin; each concept has one place:
//
//   - Time: adaptLeaseClock (adapt.go) is the monotonic clock the lease and
//     promise rules read (the core's New, Step and Tick, ReadState.Check,
//     replica.Lease); a wall-clock step moves only the wall face, which
//     mutation timestamps read. The meta server's clock is metaClock
//     (clock.go); cores count ticks (replsrv.go tick).
//   - Leases: the replica server keeps a replica.Lease, extended in
//     replicaServer.beacon from the beacon answer; reads are checked by
//     the core's ReadState against it (replclient.go). Leases held from
//     members and the promises behind them live in the core.
//   - Incarnations: drawn from the seed when a replica's directory is
//     created (openAndRegister), kept in replicaDisk, reported in
//     partition.report and handed to the core by coreConfig.
//   - Persisted dedup: adaptRecoverDedup and adaptInstallDedup (adapt.go),
//     with the persisted state kept in replicaDisk beside the store and
//     copied by replicaDisk.flush and install and by serveCheckpoint.
//   - Cluster id and .gar directories: each etcd namespace has its cluster
//     id (etcd.clusterID); the meta server refuses beacons and proposals of
//     another id with meta.CheckClusterID and its controller refuses an
//     unjoined node holding unknown tables; the replica server keeps its
//     id in disk.clusterID, joins with replica.JoinCheck and checks beacon
//     answers, pushes (replicaServer.pushed) and proposal answers with
//     replica.CheckMetaClusterID before replicaServer.applyMetaState;
//     replica deletion is removeReplica.
//
// A change of the Controller's or the core's signature shows as a compile
// error in exactly these places.
package sim
