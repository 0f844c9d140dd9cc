package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// host implements pulumirpc.LanguageRuntimeServer. Code generation (GenerateProgram, GenerateProject,
// GeneratePackage), Template, Pack and Link come from the embedded Unimplemented server: `pulumi convert`,
// `pulumi new` templates and `pulumi package` are not used by this project.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	script string // pulumi-language-python-exec

	mu            sync.Mutex
	engineAddress string
	stopHost      context.CancelFunc // stops the whole host (the engine went away)

	// runs is the parent context of the programs and plugins running now. Cancel (and shutdown) cancels it and
	// puts a fresh one in its place: the engine sends Cancel whenever it lets go of a host, and a host that the CLI
	// attached to (PULUMI_DEBUG_LANGUAGES) is let go of, and used again, several times in one command.
	runs    context.Context
	endRuns context.CancelFunc
}

func newHost(script, engineAddress string, stopHost context.CancelFunc) *host {
	h := &host{script: script, engineAddress: engineAddress, stopHost: stopHost}
	h.runs, h.endRuns = context.WithCancel(context.Background())
	return h
}

// runContext is the context for one program or plugin run: cancelled by Cancel, or when the RPC that asked for
// the run ends (the engine dropped it).
func (h *host) runContext(rpc context.Context) (context.Context, context.CancelFunc) {
	h.mu.Lock()
	ctx, cancel := context.WithCancel(h.runs)
	h.mu.Unlock()
	stop := context.AfterFunc(rpc, cancel)
	return ctx, func() { stop(); cancel() }
}

// cancelRuns stops every program and plugin running now (SIGINT, then SIGKILL after a grace period).
func (h *host) cancelRuns() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endRuns()
	h.runs, h.endRuns = context.WithCancel(context.Background())
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is only called when the CLI attaches to an already running host (PULUMI_DEBUG_LANGUAGES); a host it
// starts itself gets the engine address on its command line.
func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	if err := rpcutil.Healthcheck(context.Background(), req.GetEngineAddress(), 5*time.Minute, h.stopHost); err != nil {
		return nil, fmt.Errorf("could not watch the engine at %s: %w", req.GetEngineAddress(), err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: hostVersion()}, nil
}

// GetRequiredPlugins and GetRequiredPackages report nothing: the project puts every provider plugin on PATH and
// runs with automatic plugin acquisition disabled, so the engine finds each provider by name when the program
// first registers one of its resources. (The SDK still sends each resource's package version, so the engine
// knows which version was asked for.)
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// RuntimeOptionsPrompts asks nothing: projects state their options in Pulumi.yaml.
func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// Cancel stops the programs and plugins this host runs.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelRuns()
	return &emptypb.Empty{}, nil
}

// About tells `pulumi about` which interpreter the program uses.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts, err := readOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	py, err := resolvePython(req.GetInfo(), opts)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, py.python, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", py.python, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: py.python,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "Python "),
		Metadata:   map[string]string{"toolchain": "pip", "interpreter": py.source},
	}, nil
}

// GetProgramDependencies lists the packages installed in the program's interpreter (`pulumi about`); without
// transitive dependencies it lists only the packages nothing else installed needs, i.e. the ones asked for.
func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	opts, err := readOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	py, err := resolvePython(req.GetInfo(), opts)
	if err != nil {
		return nil, err
	}
	args := []string{"-m", "pip", "list", "--format=json", "--disable-pip-version-check"}
	if !req.GetTransitiveDependencies() {
		args = append(args, "--not-required")
	}
	cmd := exec.CommandContext(ctx, py.python, args...)
	cmd.Env = py.environ(cmd.Environ())
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pip list with %s: %w", py.python, err)
	}
	var listed []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &listed); err != nil {
		return nil, fmt.Errorf("parsing pip list output: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(listed))
	for _, p := range listed {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	logging.V(5).Infof("GetProgramDependencies: %d packages in %s", len(deps), py.source)
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
