//go:build !invariants && !race

package mutlog

const invariantsEnabled = false
