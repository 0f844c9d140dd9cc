"""The YAML emitter for text rendered per node: libyaml's when PyYAML has it (same output, many times faster)."""

from __future__ import annotations

import yaml

SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
