// Package appenv gives table environment variables (Pegasus' app envs)
// their meaning: the keys this server supports, the syntax of their
// values, and the per-partition write throttle they configure. The meta
// server validates with it before storing a change; replica servers parse
// with it to apply the envs they are sent. It is pure: no clock reads, no
// I/O.
package appenv
