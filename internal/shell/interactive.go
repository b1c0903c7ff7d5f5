package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
)

// historyFile keeps the interactive history across sessions, in the
// user's home directory.
const historyFile = ".pegasus_shell_history"

// Interactive reads commands from a terminal with line editing, history
// and command-name completion, and runs them until exit, quit or Ctrl-D. A
// failing command prints its error and the session goes on. Ctrl-C while a
// command runs cancels that command only.
func (s *Shell) Interactive(ctx context.Context, stdin io.ReadCloser, stderr io.Writer) error {
	var completions []readline.PrefixCompleterInterface
	for _, name := range commandNames() {
		completions = append(completions, readline.PcItem(name))
	}
	cfg := &readline.Config{
		Prompt:          ">>> ",
		AutoComplete:    readline.NewPrefixCompleter(completions...),
		InterruptPrompt: "^C",
		EOFPrompt:       "exit",
		Stdin:           stdin,
		Stdout:          s.cfg.Out,
		Stderr:          stderr,
	}
	if home, err := os.UserHomeDir(); err == nil {
		cfg.HistoryFile = filepath.Join(home, historyFile)
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return fmt.Errorf("shell: %w", err)
	}
	defer rl.Close()
	fmt.Fprintf(s.cfg.Out, "Pegasus shell, meta servers %s. Type help for the commands, exit to leave.\n", strings.Join(s.cfg.MetaServers, ","))

	// Commands run under a context the session's Ctrl-C does not end:
	// SIGINT cancels the running command, not the shell.
	base := context.WithoutCancel(ctx)
	for {
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("shell: %w", err)
		}
		for _, cmd := range splitScript(line) {
			cmdCtx, stop := signal.NotifyContext(base, os.Interrupt)
			err := s.Exec(cmdCtx, cmd)
			stop()
			if errors.Is(err, errExit) {
				return nil
			}
			if err != nil {
				fmt.Fprintf(stderr, "ERROR: %v\n", err)
				break
			}
		}
	}
}

// RunReader runs the commands read from r, one line at a time: for
// `echo "ls -d" | pegasus shell`. Like Pegasus' shell it goes on after a
// failing command, printing its error to stderr as "ERROR: ..."; it then
// returns an error wrapping the first failure (so that the exit status
// names its kind) and counting them all. exit or quit end the input.
func (s *Shell) RunReader(ctx context.Context, r io.Reader, stderr io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var first error
	failed, ran := 0, 0
	line := 0
	for sc.Scan() {
		line++
		for _, cmd := range splitScript(sc.Text()) {
			ran++
			err := s.Exec(ctx, cmd)
			if errors.Is(err, errExit) {
				return pipeResult(first, failed, ran-1)
			}
			if err != nil {
				fmt.Fprintf(stderr, "ERROR: line %d: %v\n", line, err)
				failed++
				if first == nil {
					first = err
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("shell: reading commands: %w", err)
	}
	return pipeResult(first, failed, ran)
}

// pipeResult is RunReader's outcome: nil when every command succeeded.
func pipeResult(first error, failed, ran int) error {
	if failed == 0 {
		return nil
	}
	return &PipeError{First: first, Failed: failed, Ran: ran}
}

// PipeError reports the failures of commands read from a pipe. It wraps
// the first failure, whose kind decides the exit status.
type PipeError struct {
	First       error
	Failed, Ran int
}

func (e *PipeError) Error() string {
	return fmt.Sprintf("%d of %d commands failed; the first: %v", e.Failed, e.Ran, e.First)
}

func (e *PipeError) Unwrap() error { return e.First }

// IsTerminal reports whether f is a terminal, to choose between
// Interactive and RunReader.
func IsTerminal(f *os.File) bool {
	return readline.IsTerminal(int(f.Fd()))
}
