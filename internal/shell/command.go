package shell

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// flagKind is the type of a command flag's value.
type flagKind int

const (
	boolFlag flagKind = iota
	intFlag
	stringFlag
)

// flagSpec declares one flag of a command. Flags use Pegasus' names:
// -d|--detailed, -p|--partition_count, -t|--type.
type flagSpec struct {
	long, short string
	kind        flagKind
	def         string // default value, as text
	metavar     string // value placeholder in the usage line
	required    bool
	usage       string
}

// command is one entry of the command table: everything needed to parse,
// run and document it.
type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	// details, when set, follows the flags in `help <command>`.
	details string
	flags   []flagSpec
	// json: the command has a JSON form, chosen with -j|--json or the
	// shell's --json.
	json bool
	// minArgs and maxArgs bound the positional arguments; maxArgs < 0
	// means no bound.
	minArgs, maxArgs int
	// flagsFirst stops flag parsing at the first positional argument, for
	// commands whose trailing arguments are passed on verbatim.
	flagsFirst bool
	run        func(ctx context.Context, s *Shell, in *invocation) error
}

// invocation is one parsed use of a command.
type invocation struct {
	cmd   *command
	args  []string
	flags *pflag.FlagSet
	json  bool
	out   io.Writer
	mark  string // see markNegatives
}

func (in *invocation) bool(name string) bool {
	v, _ := in.flags.GetBool(name)
	return v
}

func (in *invocation) int(name string) int {
	v, _ := in.flags.GetInt(name)
	return v
}

func (in *invocation) string(name string) string {
	v, _ := in.flags.GetString(name)
	if in.mark != "" {
		v = strings.TrimPrefix(v, in.mark)
	}
	return v
}

// markNegatives hides negative numbers from the flag parser, so that
// `incr h s -1` and `check_and_set ... -o -5` mean numbers, not flags (no
// flag of any command is a digit): it prefixes each with a mark no word
// starts with, except the value of a flag that takes one (so that `-n -1`
// still sets -n). It returns the words and the mark ("" when none).
func (c *command) markNegatives(words []string) ([]string, string) {
	mark := "\x00-"
	for slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, mark) }) {
		mark += "\x00"
	}
	out := make([]string, len(words))
	marked := false
	for i, w := range words {
		out[i] = w
		if !isNegativeNumber(w) || (i > 0 && c.takesValue(words[i-1])) {
			continue
		}
		out[i] = mark + w
		marked = true
	}
	if !marked {
		return words, ""
	}
	return out, mark
}

func isNegativeNumber(w string) bool {
	if len(w) < 2 || w[0] != '-' {
		return false
	}
	_, err := strconv.ParseFloat(w, 64)
	return err == nil
}

// takesValue reports whether word is a flag of c that takes a value.
func (c *command) takesValue(word string) bool {
	if strings.Contains(word, "=") || isNegativeNumber(word) {
		return false
	}
	for _, f := range c.flags {
		if (word == "-"+f.short || word == "--"+f.long) && f.kind != boolFlag {
			return true
		}
	}
	return false
}

func (in *invocation) printer() *printer { return &printer{w: in.out} }

// parse checks words against the command's flags and argument bounds.
func (c *command) parse(words []string, out io.Writer, jsonDefault bool) (*invocation, error) {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SetInterspersed(!c.flagsFirst)
	fs.SortFlags = false
	for _, f := range c.flags {
		switch f.kind {
		case boolFlag:
			fs.BoolP(f.long, f.short, f.def == "true", f.usage)
		case intFlag:
			var def int
			fmt.Sscan(f.def, &def)
			fs.IntP(f.long, f.short, def, f.usage)
		case stringFlag:
			fs.StringP(f.long, f.short, f.def, f.usage)
		}
	}
	if c.json {
		fs.BoolP("json", "j", false, "print JSON")
	}
	if len(c.flags) == 0 && !c.json {
		// A command without flags takes every word as an argument.
		fs.SetInterspersed(false)
		words = append([]string{"--"}, words...)
	}
	var mark string
	if len(c.flags) > 0 || c.json {
		words, mark = c.markNegatives(words)
	}
	if err := fs.Parse(words); err != nil {
		msg := err.Error()
		if mark != "" {
			msg = strings.ReplaceAll(msg, mark, "")
		}
		return nil, c.usageError(msg)
	}
	for _, f := range c.flags {
		if f.required && !fs.Changed(f.long) {
			return nil, c.usageError("-" + f.short + " is required")
		}
	}
	args := fs.Args()
	if mark != "" {
		for i := range args {
			args[i] = strings.TrimPrefix(args[i], mark)
		}
	}
	if len(args) < c.minArgs || (c.maxArgs >= 0 && len(args) > c.maxArgs) {
		return nil, c.usageError("wrong number of arguments")
	}
	in := &invocation{cmd: c, args: args, flags: fs, out: out, json: jsonDefault, mark: mark}
	if c.json && in.bool("json") {
		in.json = true
	}
	return in, nil
}

func (c *command) usageError(why string) error {
	return fmt.Errorf("%w of %s: %s; expected: %s", ErrUsage, c.name, why, c.usage())
}

// usage renders the command's synopsis from its table entry.
func (c *command) usage() string {
	parts := []string{c.name}
	if c.args != "" && !c.flagsFirst {
		parts = append(parts, c.args)
	}
	for _, f := range c.flags {
		s := "--" + f.long
		if f.short != "" {
			s = "-" + f.short + "|" + s
		}
		if f.kind != boolFlag {
			s += " " + f.metavar
		}
		if !f.required {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	if c.json {
		parts = append(parts, "[-j|--json]")
	}
	if c.args != "" && c.flagsFirst {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

// commandTable lists every command; help is generated from it. It is
// filled in init because the help command refers to it.
var commandTable []*command

func init() {
	commandTable = append(commandTable,
		helpCommand, exitCommand, quitCommand,
		clusterInfoCommand, nodesCommand, getMetaLevelCommand, setMetaLevelCommand,
		lsCommand, appCommand, queryConfigCommand, createCommand, dropCommand,
		getAppEnvsCommand, setAppEnvsCommand, delAppEnvsCommand, clearAppEnvsCommand,
		migrateNodeCommand, downgradeNodeCommand, balanceCommand, dddDiagnoseCommand, remoteCommandCommand, serverInfoCommand, serverStatCommand,
		useCommand, setCommand, getCommand, delCommand, existCommand, ttlCommand, multiGetCommand, scanCommand,
		incrCommand, checkAndSetCommand, multiSetCommand, multiDelCommand, countCommand, sortKeyCountCommand,
		hashScanCommand, fullScanCommand, countDataCommand,
	)
}

func lookup(name string) *command {
	for _, c := range commandTable {
		if c.name == name {
			return c
		}
	}
	return nil
}

// commandNames returns the names of every command, sorted.
func commandNames() []string {
	names := make([]string, len(commandTable))
	for i, c := range commandTable {
		names[i] = c.name
	}
	sort.Strings(names)
	return names
}

var helpCommand = &command{
	name:    "help",
	args:    "[command]",
	summary: "list the commands, or describe one",
	maxArgs: 1,
	run: func(_ context.Context, _ *Shell, in *invocation) error {
		if len(in.args) == 1 {
			c := lookup(in.args[0])
			if c == nil {
				return unknownCommand(in.args[0])
			}
			fmt.Fprintf(in.out, "%s\n    %s\n", c.usage(), c.summary)
			var rows [][]string
			for _, f := range c.flags {
				rows = append(rows, []string{"-" + f.short + ", --" + f.long, f.usage})
			}
			if c.json {
				rows = append(rows, []string{"-j, --json", "print JSON"})
			}
			width := 0
			for _, r := range rows {
				width = max(width, len(r[0]))
			}
			for _, r := range rows {
				fmt.Fprintf(in.out, "    %-*s  %s\n", width, r[0], r[1])
			}
			for line := range strings.Lines(c.details) {
				fmt.Fprintf(in.out, "    %s", line)
			}
			return nil
		}
		fmt.Fprintln(in.out, "Commands (several may be separated by ';'; help <command> describes the flags):")
		for _, c := range commandTable {
			fmt.Fprintf(in.out, "  %s\n        %s\n", c.usage(), c.summary)
		}
		return nil
	},
}

// errExit ends an interactive session or a script, successfully.
var errExit = fmt.Errorf("shell: exit")

var exitCommand = &command{
	name:    "exit",
	summary: "leave the shell",
	run:     func(context.Context, *Shell, *invocation) error { return errExit },
}

var quitCommand = &command{
	name:    "quit",
	summary: "leave the shell",
	run:     func(context.Context, *Shell, *invocation) error { return errExit },
}

func unknownCommand(name string) error {
	return fmt.Errorf("%w %q; type help for the list", ErrUnknownCommand, name)
}
