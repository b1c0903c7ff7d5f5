package pegasustarget

import "errors"

var (
	// ErrCreateTable: the meta server refused to create the benchmark
	// table.
	ErrCreateTable = errors.New("pegasustarget: cannot create table")
	// ErrTableNotReady: the table did not become fully healthy in time.
	ErrTableNotReady = errors.New("pegasustarget: table not fully healthy")
)
