package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// analyzerKind is the plugin kind the engine sends for policy packs.
const analyzerKind = "analyzer"

// RunPlugin runs a plugin written in Python from its directory: a policy pack (PulumiPolicy.yaml, runtime python,
// which is what `--policy-pack <dir>` starts) or a resource/tool plugin (PulumiPlugin.yaml). The engine reads the
// plugin's stdout for the port it serves on, as for any plugin, and gets its exit code at the end of the stream.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	sender := &streamSender{send: func(stdout, stderr []byte) error {
		if stderr != nil {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: stderr}})
		}
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: stdout}})
	}}
	stdout, stderr := sender.writers()

	info := req.GetInfo()
	if info == nil {
		return errors.New("RunPluginRequest carries no program info (is the Pulumi CLI too old?)")
	}
	opts, err := readOptions(info)
	if err != nil {
		return err
	}
	// Resource and tool plugins get a virtualenv of their own, called venv unless the options say otherwise.
	// Policy packs use what PulumiPolicy.yaml names, or the ambient interpreter.
	isPolicyPack := req.GetKind() == analyzerKind
	if !isPolicyPack && opts.virtualenv == "" {
		opts.virtualenv = "venv"
	}
	py, err := resolvePython(info, opts)
	if err != nil {
		return err
	}

	ctx, done := h.runContext(server.Context())
	defer done()

	// The engine's environment for plugins (its own plus extras such as credentials), else the host's.
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	env = py.environ(env)

	var cmd *exec.Cmd
	if isPolicyPack {
		// pulumi.policy (in the Pulumi Python SDK) takes the engine address (last of req.Args, after any logging
		// flags) and the pack's directory, and runs the pack's __main__.py, which serves the Analyzer service.
		args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, info.GetProgramDirectory())
		cmd = exec.CommandContext(ctx, py.python, args...)
		cmd.Dir = info.GetProgramDirectory()
	} else {
		args := append([]string{"-u", info.GetProgramDirectory()}, req.GetArgs()...)
		cmd = exec.CommandContext(ctx, py.python, args...)
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env
	cmd.Stderr = stderr
	interruptFirst(cmd)
	logging.V(5).Infof("RunPlugin(%s): %s %v (%s)", req.GetKind(), py.python, cmd.Args[1:], py.source)

	if isPolicyPack {
		err = runPolicyPack(ctx, cmd, stdout)
	} else {
		cmd.Stdout = stdout
		err = cmd.Run()
	}

	code := 0
	if err != nil {
		// A plugin that ran and failed (including a policy pack that died before it printed its port, which the
		// proxy reports as an error of its own) ends with its exit code; its stderr has already been streamed.
		if cmd.ProcessState == nil {
			return fmt.Errorf("could not run the plugin with %s (%s): %w", py.python, py.source, err)
		}
		code = cmd.ProcessState.ExitCode()
		if code == 0 {
			return fmt.Errorf("the plugin exited but failed: %w", err)
		}
	}
	return sender.do(func() error {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}, //nolint:gosec // exit codes fit
		})
	})
}

// runPolicyPack starts a Python policy pack behind the SDK's policy proxy.
//
// The engine sends a pack its stack (project, stack, organization, dry run, config) through the Analyzer
// ConfigureStack call after the pack is up, but pulumi-policy (1.21) only reads those from PULUMI_* environment
// variables when it starts. The proxy bridges the two: it serves the Analyzer service itself first (its port is
// what the engine reads), waits for ConfigureStack, then the pack is started with the matching environment, and the
// proxy forwards every further call to the pack's own port, read from the pack's stdout.
func runPolicyPack(ctx context.Context, cmd *exec.Cmd, stdout io.Writer) error {
	proxy, packStdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("starting the policy pack proxy: %w", err)
	}
	stack, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the policy pack's stack configuration: %w", err)
	}
	if stack != nil {
		setIf := func(key, value string) {
			if value != "" {
				cmd.Env = setEnv(cmd.Env, key, value)
			}
		}
		setIf("PULUMI_ORGANIZATION", stack.GetOrganization())
		setIf("PULUMI_PROJECT", stack.GetProject())
		setIf("PULUMI_STACK", stack.GetStack())
		setIf("PULUMI_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
		if config := stack.GetConfig(); config != nil {
			configJSON, err := json.Marshal(config)
			if err != nil {
				return fmt.Errorf("encoding the stack configuration: %w", err)
			}
			setIf("PULUMI_CONFIG", string(configJSON))
		}
		if keys := stack.GetConfigSecretKeys(); keys != nil {
			keysJSON, err := json.Marshal(keys)
			if err != nil {
				return fmt.Errorf("encoding the secret configuration keys: %w", err)
			}
			setIf("PULUMI_CONFIG_SECRET_KEYS", string(keysJSON))
		}
	}
	cmd.Stdout = packStdout
	if err := cmd.Start(); err != nil {
		proxy.Abort(err)
		return err
	}
	// Attach waits for the pack to exit.
	return proxy.Attach(ctx, cmd)
}
