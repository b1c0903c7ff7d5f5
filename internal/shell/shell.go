// Package shell is the Pegasus-style administration and data shell:
// `pegasus shell`, interactive or scripted (-e "cmd; cmd"). Its commands,
// flags and output follow Apache Pegasus' shell (nodes -d, ls -d, app -d,
// cluster_info, set_meta_level, remote_command, ...), so that an operator's
// habits and scripts carry over; --json (or -j on a command) prints JSON
// instead of tables.
//
// Admin commands talk to the meta servers (following the leader) and, for
// remote_command, to each server directly; data commands go through the
// client package. Both sit behind narrow seams (a list of meta addresses,
// and DataClient) so that tests run commands against in-process fakes.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Config configures a Shell. Only MetaServers is required.
type Config struct {
	MetaServers []string
	// JSON makes every command that has a JSON form print it.
	JSON bool
	// Out receives command output (default os.Stdout).
	Out io.Writer
	// DialTimeout bounds connecting to a server (default 3 s); CallTimeout
	// bounds one call (default 10 s).
	DialTimeout time.Duration
	CallTimeout time.Duration
	// CreateTimeout bounds how long create waits for the new table to be
	// fully healthy (default 60 s); PollInterval paces that wait (default
	// 500 ms).
	CreateTimeout time.Duration
	PollInterval  time.Duration
	// Location is the time zone of printed times (default time.Local).
	Location *time.Location
	// NewDataClient connects the data commands to the cluster (default:
	// the client package).
	NewDataClient func(ctx context.Context, metas []string, dialTimeout time.Duration) (DataClient, error)
	// Credentials are what the shell shows the servers: a TLS identity,
	// and the admin token its admin commands need.
	Credentials dial.Credentials
}

// Shell runs commands against one cluster. It is not safe for concurrent
// use: commands run one at a time, as an operator types them.
type Shell struct {
	cfg   Config
	conns *dial.Conns

	data      DataClient // connected on first use
	tableName string     // selected by use
	table     DataTable
}

// New returns a shell for the cluster whose meta servers cfg lists. It
// does not connect yet: the first command does.
func New(cfg Config) (*Shell, error) {
	var metas []string
	for _, m := range cfg.MetaServers {
		if m = strings.TrimSpace(m); m != "" {
			metas = append(metas, m)
		}
	}
	if len(metas) == 0 {
		return nil, fmt.Errorf("%w: no meta server given", ErrUsage)
	}
	cfg.MetaServers = metas
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = dial.DefaultDialTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = dial.DefaultCallTimeout
	}
	if cfg.CreateTimeout <= 0 {
		cfg.CreateTimeout = 60 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.NewDataClient == nil {
		tlsCfg := cfg.Credentials.TLS
		cfg.NewDataClient = func(ctx context.Context, metas []string, dialTimeout time.Duration) (DataClient, error) {
			return newClientData(ctx, metas, dialTimeout, tlsCfg)
		}
	}
	return &Shell{
		cfg:   cfg,
		conns: dial.New(metas, dial.Options{DialTimeout: cfg.DialTimeout, CallTimeout: cfg.CallTimeout, Credentials: cfg.Credentials}),
	}, nil
}

// withMetas returns a shell like s that talks to the meta servers metas
// instead (a command's -c); the caller closes its connections.
func (s *Shell) withMetas(metas []string) (*Shell, error) {
	cfg := s.cfg
	cfg.MetaServers = metas
	return New(cfg)
}

// Exec runs one command line.
func (s *Shell) Exec(ctx context.Context, line string) error {
	words, err := tokenize(line)
	if err != nil || len(words) == 0 {
		return err
	}
	c := lookup(words[0])
	if c == nil {
		return unknownCommand(words[0])
	}
	in, err := c.parse(words[1:], s.cfg.Out, s.cfg.JSON)
	if err != nil {
		return err
	}
	return c.run(ctx, s, in)
}

// RunScript runs the commands of a script (separated by ';' or newlines)
// in order and stops at the first that fails, returning its error. exit or
// quit end the script successfully.
func (s *Shell) RunScript(ctx context.Context, script string) error {
	for _, line := range splitScript(script) {
		if err := s.Exec(ctx, line); err != nil {
			if errors.Is(err, errExit) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Close releases the shell's connections.
func (s *Shell) Close() error {
	if s.data != nil {
		s.data.Close()
	}
	return s.conns.Close()
}

// callMeta calls the meta leader and turns transport failures into
// ErrMetaUnreachable. Error codes in the response are the caller's.
func callMeta[R dial.Response](ctx context.Context, s *Shell, call func(context.Context, pb.MetaClient) (R, error)) (R, error) {
	resp, err := dial.CallMeta(ctx, s.conns, call)
	if err != nil {
		var zero R
		return zero, s.metaUnreachable(err)
	}
	return resp, nil
}

func (s *Shell) metaUnreachable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, dial.ErrIncompatible) {
		return err
	}
	if errors.Is(err, dial.ErrDenied) {
		return fmt.Errorf("%w: %s (give an admin credential: --token-file, or an admin certificate)",
			ErrPermissionDenied, strings.TrimPrefix(err.Error(), dial.ErrDenied.Error()+": "))
	}
	// Name the kind once: the detail lists every meta server tried.
	detail := err.Error()
	for _, prefix := range []error{dial.ErrUnreachable, dial.ErrNoLeader} {
		detail = strings.TrimPrefix(detail, prefix.Error()+": ")
	}
	if errors.Is(err, dial.ErrNoLeader) {
		detail = "no leader: " + detail
	}
	return fmt.Errorf("%w: %s", ErrMetaUnreachable, detail)
}

// codeError returns nil for ERR_OK and otherwise the error for an answer
// to what (e.g. `create app "t"`): ErrUnknownTable for ERR_APP_NOT_EXIST,
// ErrServer for the rest.
func codeError(what, table string, e *pb.Error) error {
	switch e.GetCode() {
	case pb.ErrorCode_ERR_OK:
		return nil
	case pb.ErrorCode_ERR_APP_NOT_EXIST:
		return fmt.Errorf("%w: %q", ErrUnknownTable, table)
	}
	msg := ""
	if e.GetMessage() != "" {
		msg = ": " + e.GetMessage()
	}
	return fmt.Errorf("%w: %s failed: %s%s", ErrServer, what, e.GetCode(), msg)
}
