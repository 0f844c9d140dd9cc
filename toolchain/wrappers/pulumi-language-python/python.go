package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// execScriptName is the Python script that runs a program under the SDK; see toolchain/scripts.
const execScriptName = "pulumi-language-python-exec"

// findExecScript locates pulumi-language-python-exec: the -exec flag if given, else next to this executable (both
// as invoked, e.g. a symlink in a bin directory, and after resolving symlinks), else on PATH.
func findExecScript(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	var dirs []string
	if invoked, err := exec.LookPath(os.Args[0]); err == nil {
		if abs, err := filepath.Abs(invoked); err == nil {
			dirs = append(dirs, filepath.Dir(abs))
		}
	}
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	for _, dir := range dirs {
		candidate := filepath.Join(dir, execScriptName)
		if fileExists(candidate) {
			return candidate, nil
		}
	}
	if onPath, err := exec.LookPath(execScriptName); err == nil {
		return filepath.Abs(onPath)
	}
	return "", fmt.Errorf("cannot find %s next to this executable (%s) or on PATH", execScriptName,
		strings.Join(dirs, ", "))
}

// interpreter is the Python a program or policy pack runs with.
type interpreter struct {
	// python is the interpreter's path (absolute, or as found on PATH).
	python string
	// venv is the virtualenv directory the interpreter belongs to; empty for an interpreter outside one (python3 from
	// PATH, or such a PULUMI_PYTHON_CMD), in which case the environment is passed on unchanged.
	venv string
	// source says where the choice came from, for error messages.
	source string
}

// pythonOptions are the runtime options of Pulumi.yaml / PulumiPolicy.yaml that matter to this host.
type pythonOptions struct {
	virtualenv string // options.virtualenv, as written
	toolchain  string // options.toolchain; only "pip" (or unset) is supported
}

func readOptions(info *pulumirpc.ProgramInfo) (pythonOptions, error) {
	var opts pythonOptions
	if info == nil || info.GetOptions() == nil {
		return opts, nil
	}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option virtualenv must be a string")
		}
		opts.virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option toolchain must be a string")
		}
		opts.toolchain = s
	}
	if opts.toolchain != "" && opts.toolchain != "pip" {
		return opts, fmt.Errorf("runtime option toolchain %q is not supported by this language host (only pip)",
			opts.toolchain)
	}
	return opts, nil
}

// rootDir is where relative virtualenv paths start: the directory of Pulumi.yaml (or PulumiPolicy.yaml), falling
// back to the program directory.
func rootDir(info *pulumirpc.ProgramInfo) string {
	if info.GetRootDirectory() != "" {
		return info.GetRootDirectory()
	}
	return info.GetProgramDirectory()
}

// venvDir is the absolute virtualenv directory named by the options, or "" when none is configured.
func venvDir(info *pulumirpc.ProgramInfo, opts pythonOptions) string {
	if opts.virtualenv == "" {
		return ""
	}
	if filepath.IsAbs(opts.virtualenv) {
		return filepath.Clean(opts.virtualenv)
	}
	return filepath.Join(rootDir(info), opts.virtualenv)
}

// resolvePython picks the interpreter: PULUMI_PYTHON_CMD wins; otherwise the virtualenv of the options (which must
// exist), otherwise python3 from PATH.
func resolvePython(info *pulumirpc.ProgramInfo, opts pythonOptions) (interpreter, error) {
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		path, err := exec.LookPath(cmd)
		if err != nil {
			return interpreter{}, fmt.Errorf("PULUMI_PYTHON_CMD=%s: %w", cmd, err)
		}
		py := interpreter{python: path, source: "PULUMI_PYTHON_CMD"}
		// An interpreter inside a virtualenv (<venv>/bin/python) gets that virtualenv activated, as one named by the
		// options would.
		if abs, err := filepath.Abs(path); err == nil {
			if venv := filepath.Dir(filepath.Dir(abs)); fileExists(filepath.Join(venv, "pyvenv.cfg")) {
				py.venv = venv
			}
		}
		return py, nil
	}
	if venv := venvDir(info, opts); venv != "" {
		python := filepath.Join(venv, "bin", "python")
		if !fileExists(python) {
			return interpreter{}, fmt.Errorf("the virtualenv %s (runtime option virtualenv: %s) has no bin/python; "+
				"create it with `pulumi install` (or `python3 -m venv %s && %s/bin/pip install -r requirements.txt`), "+
				"or point PULUMI_PYTHON_CMD at an interpreter that has the dependencies",
				venv, opts.virtualenv, venv, venv)
		}
		return interpreter{python: python, venv: venv, source: "virtualenv " + venv}, nil
	}
	path, err := exec.LookPath("python3")
	if err != nil {
		return interpreter{}, errors.New("no virtualenv is configured and python3 is not on PATH")
	}
	return interpreter{python: path, source: "python3 on PATH"}, nil
}

// environ returns base with the interpreter's virtualenv activated, as `source venv/bin/activate` would: its bin
// directory first on PATH, VIRTUAL_ENV set, PYTHONHOME removed. Tools the program starts (pip, kubectl plugins
// written in Python, ...) then see the same environment.
func (py interpreter) environ(base []string) []string {
	if py.venv == "" {
		return base
	}
	bin := filepath.Join(py.venv, "bin")
	path := bin
	if old, ok := lookupEnv(base, "PATH"); ok && old != "" {
		path = bin + string(os.PathListSeparator) + old
	}
	env := unsetEnv(base, "PYTHONHOME")
	env = setEnv(env, "PATH", path)
	return setEnv(env, "VIRTUAL_ENV", py.venv)
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// setEnv returns env with key set to value, dropping earlier definitions of key.
func setEnv(env []string, key, value string) []string {
	return append(unsetEnv(env, key), key+"="+value)
}

func unsetEnv(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}
