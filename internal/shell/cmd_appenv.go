package shell

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/pegasus-go/pegasus/internal/appenv"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Table environment variables, as Pegasus' shell: the commands work on the
// table selected with `use`.

var getAppEnvsCommand = &command{
	name:    "get_app_envs",
	summary: "print the environment variables of the table selected with use",
	json:    true,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		name, err := s.currentApp()
		if err != nil {
			return err
		}
		resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
			return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: name})
		})
		if err != nil {
			return err
		}
		if err := codeError("get app envs", name, resp.GetError()); err != nil {
			return err
		}
		return printAppEnvs(in, resp.GetTable().GetEnvs())
	},
}

func printAppEnvs(in *invocation, envs map[string]string) error {
	if envs == nil {
		envs = map[string]string{}
	}
	if in.json {
		return writeJSON(in.out, map[string]any{"app_envs": envs})
	}
	kvs := make([]pair, 0, len(envs))
	for _, k := range slices.Sorted(maps.Keys(envs)) {
		kvs = append(kvs, pair{k, envs[k]})
	}
	in.printer().pairs("app_envs", kvs)
	return nil
}

var setAppEnvsCommand = &command{
	name:    "set_app_envs",
	args:    "<key> <value> [key value...]",
	summary: "set environment variables of the table selected with use",
	details: "Supported keys:\n" + appenv.Supported(),
	json:    true,
	minArgs: 2, maxArgs: -1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		if len(in.args)%2 != 0 {
			return in.cmd.usageError(fmt.Sprintf("need the value for key %s", in.args[len(in.args)-1]))
		}
		req := &pb.UpdateAppEnvRequest{Op: pb.AppEnvOperation_APP_ENV_OP_SET}
		for i := 0; i < len(in.args); i += 2 {
			req.Keys = append(req.Keys, in.args[i])
			req.Values = append(req.Values, in.args[i+1])
		}
		return s.updateAppEnv(ctx, in, "set", req)
	},
}

var delAppEnvsCommand = &command{
	name:    "del_app_envs",
	args:    "<key> [key...]",
	summary: "delete environment variables of the table selected with use",
	json:    true,
	minArgs: 1, maxArgs: -1,
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		return s.updateAppEnv(ctx, in, "del", &pb.UpdateAppEnvRequest{Op: pb.AppEnvOperation_APP_ENV_OP_DEL, Keys: in.args})
	},
}

var clearAppEnvsCommand = &command{
	name:    "clear_app_envs",
	summary: "delete all, or all with a prefix, of the environment variables of the table selected with use",
	json:    true,
	flags: []flagSpec{
		{long: "all", short: "a", kind: boolFlag, usage: "delete every variable"},
		{long: "prefix", short: "p", kind: stringFlag, metavar: "STR", usage: "delete the variables whose key starts with STR"},
	},
	run: func(ctx context.Context, s *Shell, in *invocation) error {
		all, prefix := in.bool("all"), in.string("prefix")
		if all == (prefix != "") {
			return in.cmd.usageError("give exactly one of --all and --prefix")
		}
		return s.updateAppEnv(ctx, in, "clear", &pb.UpdateAppEnvRequest{Op: pb.AppEnvOperation_APP_ENV_OP_CLEAR, ClearPrefix: prefix})
	},
}

// updateAppEnv sends req for the current table and prints Pegasus' "<verb>
// app envs succeed", the meta server's hint, and the envs now in force.
func (s *Shell) updateAppEnv(ctx context.Context, in *invocation, verb string, req *pb.UpdateAppEnvRequest) error {
	name, err := s.currentApp()
	if err != nil {
		return err
	}
	req.AppName = name
	resp, err := callMeta(ctx, s, func(ctx context.Context, m pb.MetaClient) (*pb.UpdateAppEnvResponse, error) {
		return m.UpdateAppEnv(ctx, req)
	})
	if err != nil {
		return err
	}
	if err := codeError(verb+" app envs", name, resp.GetError()); err != nil {
		return err
	}
	envs := resp.GetTable().GetEnvs()
	if envs == nil {
		envs = map[string]string{}
	}
	if in.json {
		return writeJSON(in.out, struct {
			AppName string            `json:"app_name"`
			Hint    string            `json:"hint_message,omitempty"`
			Envs    map[string]string `json:"app_envs"`
		}{name, resp.GetHintMessage(), envs})
	}
	fmt.Fprintf(in.out, "%s app envs succeed\n", verb)
	if h := resp.GetHintMessage(); h != "" {
		fmt.Fprintf(in.out, "=============================\n%s\n=============================\n", h)
	}
	return nil
}

// currentApp is the table selected with use.
func (s *Shell) currentApp() (string, error) {
	if s.tableName == "" {
		return "", fmt.Errorf("%w: run use <table> first", ErrNoTable)
	}
	return s.tableName, nil
}
