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

// RunReader runs the commands read from r, one line at a time, as a
// script: for `echo "ls -d" | pegasus shell`. It stops at the first
// failing command.
func (s *Shell) RunReader(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		for _, cmd := range splitScript(sc.Text()) {
			if err := s.Exec(ctx, cmd); err != nil {
				if errors.Is(err, errExit) {
					return nil
				}
				return err
			}
		}
	}
	return sc.Err()
}

// IsTerminal reports whether f is a terminal, to choose between
// Interactive and RunReader.
func IsTerminal(f *os.File) bool {
	return readline.IsTerminal(int(f.Fd()))
}
