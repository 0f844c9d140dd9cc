package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitReported is the exit code by which pulumi-language-python-exec says "the error is already in front of the
// user" (a traceback or message logged through the engine). Run then answers with Bail, which makes the CLI fail
// without printing a second, vaguer error.
const exitReported = 32

// graceful is how long a program or plugin gets between SIGINT and SIGKILL when it is cancelled.
const graceful = 5 * time.Second

// Run runs the program once (preview, update, refresh, destroy) and reports how it ended: a failure to even start
// Python or a plain non-zero exit becomes RunResponse.Error, an error Python already reported becomes Bail.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		// The engine has sent ProgramInfo since 3.x; without it there is no program directory to go by.
		return nil, errors.New("RunRequest carries no program info (is the Pulumi CLI too old?)")
	}
	opts, err := readOptions(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	py, err := resolvePython(info, opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	engine := h.engine()
	if engine == "" {
		return nil, errors.New("no engine address: the host was started without one and no Handshake came")
	}

	// Flags for the exec script: addresses and the stack's identity. -u keeps the program's output unbuffered, so
	// prints reach the CLI as they happen.
	args := []string{"-u", h.script,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--organization", req.GetOrganization(),
		"--root-directory", rootDir(info),
		"--pwd", req.GetPwd(),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, "--", entry)
	args = append(args, req.GetArgs()...)

	// Configuration travels in the environment, as the SDK reads it (pulumi.runtime.get_config_env and
	// get_config_secret_keys_env), never on the command line, where secrets would show in `ps`.
	configJSON, err := json.Marshal(nonNilMap(req.GetConfig()))
	if err != nil {
		return nil, fmt.Errorf("encoding the stack configuration: %w", err)
	}
	secretKeysJSON, err := json.Marshal(nonNilSlice(req.GetConfigSecretKeys()))
	if err != nil {
		return nil, fmt.Errorf("encoding the secret configuration keys: %w", err)
	}

	runCtx, done := h.runContext(ctx)
	defer done()

	cmd := exec.CommandContext(runCtx, py.python, args...)
	env := py.environ(os.Environ())
	env = setEnv(env, "PULUMI_CONFIG", string(configJSON))
	env = setEnv(env, "PULUMI_CONFIG_SECRET_KEYS", string(secretKeysJSON))
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	// The host's own stdout and stderr are read by the CLI, which shows them as the program's output.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	interruptFirst(cmd)

	logging.V(5).Infof("Run: %s %v (%d config keys, %s)", py.python, args, len(req.GetConfig()), py.source)
	err = cmd.Run()
	return runResult(err, py), nil
}

// runResult turns the way Python ended into the RunResponse the engine expects.
func runResult(err error, py interpreter) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.ExitCode() == exitReported {
			return &pulumirpc.RunResponse{Bail: true}
		}
		if exitErr.ExitCode() < 0 {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program was stopped: %v", exitErr)}
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program exited with code %d",
			exitErr.ExitCode())}
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run %s (%s): %v", py.python, py.source, err)}
}

// interruptFirst makes cancellation polite: SIGINT lets the SDK and Python unwind, SIGKILL follows if it does not.
func interruptFirst(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = graceful
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
