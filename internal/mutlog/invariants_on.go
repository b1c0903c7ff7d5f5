//go:build invariants || race

package mutlog

// invariantsEnabled turns on internal consistency checks that cost time in
// the hot path; they are compiled in only for invariants and race builds.
const invariantsEnabled = true
