// Command pulumi-language-python is this project's own Pulumi language host for Python.
//
// The Pulumi CLI starts a language host as a plugin: it runs the executable with the engine's gRPC address as the
// last argument (preceded by optional logging/tracing flags), reads one line holding the port the host listens on,
// and then calls the LanguageRuntime gRPC service on that port. The CLI looks the host up by name
// (pulumi-language-<runtime>) next to its own executable and on PATH.
//
// The host itself does little: it works out which Python interpreter belongs to a program (its virtualenv), and
// runs the program through pulumi-language-python-exec, a small Python script that configures the Pulumi Python SDK
// and then runs the program's __main__.py. Policy packs (PulumiPolicy.yaml, runtime python) are run the same way,
// through `python -m pulumi.policy`.
//
// Environment:
//
//	PULUMI_PYTHON_CMD  the Python interpreter to use for every program and policy pack, instead of the virtualenv
//	                   named by the runtime options (a name looked up on PATH, or a path).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// sdkModule is the Go SDK module this host is built against; its version is the version the host reports, so the
// CLI sees a language plugin of the same release as itself.
const sdkModule = "github.com/pulumi/pulumi/sdk/v3"

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	execScript := flag.String("exec", "", "path of pulumi-language-python-exec (default: next to this executable, "+
		"then on PATH)")
	// The CLI passes --tracing to plugins when tracing is on; the host accepts it so that it does not fail to start,
	// but does not trace. (-v and --logtostderr are registered by the SDK's logging package.)
	flag.String("tracing", "", "tracing endpoint (accepted and ignored)")
	flag.Parse()

	if *showVersion {
		fmt.Println(hostVersion())
		return
	}
	logging.InitLogging(false, 0, false)

	script, err := findExecScript(*execScript)
	if err != nil {
		fatal(err)
	}

	// The engine address is the last positional argument; it is absent when the host is started by hand for
	// debugging, in which case the engine tells it the address through Handshake.
	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	// Stop serving on SIGINT/SIGTERM (the CLI interrupts its plugins when it shuts down) or when the engine goes
	// away for good (the health check cancels ctx).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	host := newHost(script, engineAddress, stop)
	go stopWhenParentExits(stop)
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			fatal(fmt.Errorf("could not watch the engine at %s: %w", engineAddress, err))
		}
	}

	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		host.cancelRuns()
		close(cancel)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatal(fmt.Errorf("could not start the language host's gRPC server: %w", err))
	}

	// The CLI reads exactly this line to learn where to connect.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fatal(fmt.Errorf("the language host's gRPC server stopped: %w", err))
	}
}

// stopWhenParentExits calls stop once stdin, when it is a pipe, reaches end of file. The CLI gives each plugin a
// stdin pipe that it never writes to or closes, so end of file means the CLI has exited; without this, a host whose
// CLI was interrupted (Ctrl-C) lingers until the engine health check notices, minutes later. Other stdins (a
// terminal, /dev/null when started by hand) are left alone.
func stopWhenParentExits(stop context.CancelFunc) {
	st, err := os.Stdin.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
}

// hostVersion is the version of the Pulumi SDK module compiled in (e.g. "3.274.1"), read from the build info so
// that it never goes stale; "0.0.0-dev" when built without module information.
func hostVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == sdkModule {
				if dep.Replace != nil {
					dep = dep.Replace
				}
				if len(dep.Version) > 1 && dep.Version[0] == 'v' {
					return dep.Version[1:]
				}
			}
		}
	}
	return "0.0.0-dev"
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}
