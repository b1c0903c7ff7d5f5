package shell

import "errors"

// Sentinel errors; every error a command returns wraps one of them, or an
// error of the client package for data commands.
var (
	// ErrUnknownCommand: the first word is no shell command.
	ErrUnknownCommand = errors.New("shell: unknown command")
	// ErrUsage: wrong arguments or flags for the command.
	ErrUsage = errors.New("shell: bad usage")
	// ErrUnknownTable: the cluster has no table by that name.
	ErrUnknownTable = errors.New("shell: table not found")
	// ErrNoTable: a data command ran before `use <table>`.
	ErrNoTable = errors.New("shell: no table selected")
	// ErrMetaUnreachable: no meta server answered.
	ErrMetaUnreachable = errors.New("shell: meta server unreachable")
	// ErrPermissionDenied: the servers refused the shell's credentials for
	// the command (an admin command without an admin credential).
	ErrPermissionDenied = errors.New("shell: permission denied")
	// ErrServer: a server answered the command with an error code.
	ErrServer = errors.New("shell: server error")
	// ErrNotReady: a created table did not become healthy in time.
	ErrNotReady = errors.New("shell: table not ready")
	// ErrRemoteCommandFailed: remote_command failed on some servers.
	ErrRemoteCommandFailed = errors.New("shell: remote command failed")
)
