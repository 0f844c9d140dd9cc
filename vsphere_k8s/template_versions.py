"""Pure: the Kubernetes version a node template says it carries, against the version its pool runs.

A template built with its Kubernetes packages (kubernetes-sigs/image-builder's OVAs, or a site's
own golden image) usually says which release in its name (``ubuntu-2404-kube-v1.36.3``) and in
its vSphere annotation ("Notes": image-builder writes "... and Kubernetes v1.36.3 ..." there). A
pool that runs another version than its template says would boot kubelets of the template's
version (air-gapped sites cannot fetch others): that is refused, naming the pool's template.
A template that says no version (a plain cloud image) is not judged. See docs/node-templates.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .config import StackConfig
from .errors import ConfigIssue

# A version with Kubernetes named before it: "kube-v1.35.4", "k8s_1.35", "Kubernetes v1.35.4",
# "KUBERNETES_SEMVER=v1.35.4".
_NAMED = re.compile(r"(?:kubernetes|kube|k8s)(?:_semver)?[\s:=_-]*v?(1\.\d{1,2}(?:\.\d+)?)(?![\d.])", re.IGNORECASE)
# In a template's name also a bare "v1.35" or "1.35.4" (minors 1.20+, so "20.04" or "v1.2" of a
# site's own image numbering are not read as Kubernetes releases).
_BARE = re.compile(r"(?<![A-Za-z0-9.])v?(1\.[2-9]\d(?:\.\d+)?)(?![\d.])")


def _ordered(found: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(found))


def said_in_name(name: str) -> list[str]:
    """The Kubernetes versions a template's name states (``1.35`` or ``1.35.4``), in order."""
    spans = [(m.start(1), m.group(1)) for m in _NAMED.finditer(name)]
    spans += [(m.start(1), m.group(1)) for m in _BARE.finditer(name)]
    return _ordered(v for _, v in sorted(spans))


def said_in_annotation(annotation: str) -> list[str]:
    """The Kubernetes versions an annotation states; only where Kubernetes is named next to them
    (Notes also carry OS and containerd versions)."""
    return _ordered(m.group(1) for m in _NAMED.finditer(annotation))


def disagreeing(said: Iterable[str], version: str) -> str | None:
    """The first stated version that is not ``version``: a minor (``1.35``) is compared as a minor,
    a full release (``1.35.4``) as a release."""
    want = version.removeprefix("v").split(".")
    for stated in said:
        parts = stated.split(".")
        if parts != want[: len(parts)]:
            return stated
    return None


def _message(what: str, template: str, said: str, version: str) -> str:
    return (
        f"{what} of template {template!r} says Kubernetes {said}, but the pool runs {version}: "
        "a version change pairs with a template built for it (docs/node-templates.md)"
    )


def template_path(pool: str | None) -> str:
    return "nodePools.controlPlane.template" if pool is None else f"nodePools.workers[{pool}].template"


def pool_templates(cfg: StackConfig) -> Iterator[tuple[str, str, str]]:
    """(config path, template, the version its nodes run) for every pool."""
    cp = cfg.node_pools.control_plane
    yield template_path(None), cp.template, cfg.kubernetes.version
    for pool in cfg.node_pools.workers:
        yield template_path(pool.name), pool.template, pool.kubernetes_version or cfg.kubernetes.version


def name_issues(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Config rule: a template whose name says another Kubernetes version than its pool runs."""
    for path, template, version in pool_templates(cfg):
        said = disagreeing(said_in_name(template), version)
        if said is not None:
            yield ConfigIssue(path, _message("the name", template, said, version))


def annotation_issue(path: str, template: str, annotation: str, version: str) -> ConfigIssue | None:
    """The template VM's annotation (read from vCenter) against the version its pool runs."""
    said = disagreeing(said_in_annotation(annotation or ""), version)
    if said is None:
        return None
    return ConfigIssue(path, _message("the annotation (vSphere Notes)", template, said, version))
