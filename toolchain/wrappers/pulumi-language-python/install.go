package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// InstallDependencies (`pulumi install`, and `pulumi new`/policy installs) makes sure the virtualenv exists and
// holds requirements.txt. A stamp file in the virtualenv records the requirements it was last installed from, so a
// second call with nothing changed returns at once instead of asking pip again.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	sender := &streamSender{send: func(stdout, stderr []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: stdout, Stderr: stderr})
	}}
	stdout, stderr := sender.writers()

	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetDirectory(), ProgramDirectory: req.GetDirectory()}
	}
	opts, err := readOptions(info)
	if err != nil {
		return err
	}
	// Plugins and policy packs always get a virtualenv of their own (called venv unless the options say
	// otherwise); only programs may run on the ambient interpreter.
	if req.GetIsPlugin() && opts.virtualenv == "" {
		opts.virtualenv = "venv"
	}

	ctx := server.Context()
	if venv := venvDir(info, opts); venv != "" && os.Getenv("PULUMI_PYTHON_CMD") == "" {
		if _, err := os.Stat(filepath.Join(venv, "bin", "python")); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stdout, "Creating virtualenv %s\n", venv)
			base, err := exec.LookPath("python3")
			if err != nil {
				return errors.New("python3 is not on PATH: cannot create the virtualenv")
			}
			cmd := exec.CommandContext(ctx, base, "-m", "venv", venv)
			cmd.Stdout, cmd.Stderr = stdout, stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("creating the virtualenv %s: %w", venv, err)
			}
		}
	}
	py, err := resolvePython(info, opts)
	if err != nil {
		return err
	}

	requirements := filepath.Join(info.GetProgramDirectory(), "requirements.txt")
	content, err := os.ReadFile(requirements)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "No requirements.txt in %s: nothing to install\n", info.GetProgramDirectory())
		return nil
	}
	if err != nil {
		return err
	}

	stamp := ""
	if py.source != "PULUMI_PYTHON_CMD" {
		stamp = installStamp(py, content)
	}
	if stamp != "" {
		if _, err := os.Stat(stamp); err == nil {
			fmt.Fprintf(stdout, "Dependencies of %s are installed in %s\n", requirements, py.venv)
			return nil
		}
	}

	fmt.Fprintf(stdout, "Installing %s with %s\n", requirements, py.python)
	cmd := exec.CommandContext(ctx, py.python, "-m", "pip", "install", "--disable-pip-version-check",
		"-r", requirements)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = py.environ(os.Environ())
	cmd.Stdout, cmd.Stderr = stdout, stderr
	interruptFirst(cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pip install -r %s: %w", requirements, err)
	}
	if stamp != "" {
		if err := os.WriteFile(stamp, nil, 0o644); err != nil {
			fmt.Fprintf(stderr, "warning: could not record the installation in %s: %v\n", stamp, err)
		}
	}
	fmt.Fprintln(stdout, "Finished installing dependencies")
	return nil
}

// installStamp names the file that marks requirements content as installed into py's virtualenv; "" when py is not
// a virtualenv this host manages (PULUMI_PYTHON_CMD, python3 from PATH), where pip is simply run every time.
// Requirements files included with -r are not part of the hash: editing only those needs `pip install` by hand or
// removing the stamp.
func installStamp(py interpreter, requirements []byte) string {
	if py.venv == "" {
		return ""
	}
	sum := sha256.New()
	io.WriteString(sum, py.python+"\x00")
	sum.Write(requirements)
	return filepath.Join(py.venv, ".pulumi-installed-"+hex.EncodeToString(sum.Sum(nil))[:16])
}
