"""The Pulumi ResourceProvider gRPC service shared by the stand-in plugins (test doubles of the real ones).

One servicer serves a registry of resource types and functions. It owns what is
the same for every resource: unmarshalling with unknowns and secrets, Check with
defaults and autonaming, Diff from the declared schema, Create/Update previews
with unknown computed outputs, secret outputs, the "gone" answer of Read, and
the initialization-failure error the engine records a half-made resource from.
Resource code only talks to its backend.

A plugin prints its port on stdout as the first line and serves until killed,
which is how the engine starts any provider plugin.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

import grpc  # type: ignore[import-untyped]  # no stubs in the venv
from google.protobuf import any_pb2, empty_pb2  # type: ignore[import-untyped]
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from . import schema as sch
from .wire import Secret, contains_unknown, marshal, reveal, rewrap, unmarshal

log = logging.getLogger("standins")


class ProviderError(Exception):
    """A failure to report to the engine as the real provider would word it."""


class InitFailedError(ProviderError):
    """Create made the object but could not finish: the engine keeps it in state, tainted."""

    def __init__(self, message: str, resource_id: str, outputs: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.resource_id = resource_id
        self.outputs = dict(outputs)


@dataclass
class Config:
    """The provider's configuration, secrets revealed (never logged)."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


class Resource:
    """One resource type. Subclasses declare ``token`` and ``schema`` and talk to the backend."""

    pulumi_type: ClassVar[str] = ""
    schema: ClassVar[sch.Schema] = {}
    autoname: ClassVar[bool] = False  # fill ``name`` from the URN name when the program leaves it out
    delete_before_replace: bool = False

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    # Hooks with the bridge's default behaviour --------------------------------------------
    def validate(self, inputs: Mapping[str, Any]) -> list[sch.Failure]:
        """Cross-field rules beyond the schema; values still unknown in preview are UNKNOWN: skip them."""
        return []

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...]) -> sch.DiffResult:
        result = sch.diff_inputs(self.schema, olds, news, ignore)
        result.delete_before_replace = self.delete_before_replace
        return result

    def preview(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return sch.preview_outputs(self.schema, inputs)

    def preview_update(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        return {**olds, **news}

    # Backend operations ----------------------------------------------------------------------
    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live state, or None when the object is gone (the engine then drops it)."""
        raise NotImplementedError

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        raise NotImplementedError


class StateOnlyResource(Resource):
    """A resource that lives only in the engine's state (the tls and random plugins' keys, certificates and
    values): nothing outside it to read, an in-place update keeps what the state holds, delete has nothing
    to remove."""

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        return dict(state)

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        return {**olds, **news}

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        return None


Function = Callable[["Provider", Mapping[str, Any]], dict[str, Any]]


class Provider:
    """A package's registry: resource classes and functions by token, plus its configuration."""

    def __init__(
        self,
        name: str,
        version: str,
        resources: list[type[Resource]],
        functions: Mapping[str, Function] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.config = Config()
        self.resources = {cls.pulumi_type: cls(self) for cls in resources}
        self.functions = dict(functions or {})
        self.cancelled = threading.Event()
        # Failures the backend words well enough to show as they are (no traceback).
        self.expected_errors: tuple[type[BaseException], ...] = (ProviderError,)

    def configure(self, config: Config) -> None:
        """Take the configuration (subclasses open no connection here: the first call does)."""
        self.config = config

    def check_config(self, news: Mapping[str, Any]) -> list[sch.Failure]:
        return []

    def resource(self, token: str) -> Resource:
        found = self.resources.get(token)
        if found is None:
            raise ProviderError(f"unknown resource type {token!r} (this stand-in of {self.name} does not have it)")
        return found


def _abort(
    context: grpc.ServicerContext, error: BaseException, expected: tuple[type[BaseException], ...] = ()
) -> NoReturn:
    """End the call with the error the engine shows; an init failure carries the half-made resource."""
    if isinstance(error, InitFailedError):
        detail = provider_pb2.ErrorResourceInitFailed(
            id=error.resource_id, properties=marshal(error.outputs), reasons=[str(error)]
        )
        packed = any_pb2.Any()
        packed.Pack(detail)
        status = status_pb2.Status(code=code_pb2.UNKNOWN, message=str(error), details=[packed])
        context.abort_with_status(_RichStatus(status))
    text = getattr(error, "msg", None) or str(error)  # a vSphere fault's own message, not its dump
    message = text if isinstance(error, (ProviderError, *expected)) else f"{text}\n{traceback.format_exc()}"
    context.abort(grpc.StatusCode.UNKNOWN, message)
    raise AssertionError("unreachable")  # abort raises


class _RichStatus(grpc.Status):  # type: ignore[misc]
    """A gRPC status with google.rpc.Status details (what grpcio-status would build)."""

    def __init__(self, status: status_pb2.Status) -> None:
        self.code = grpc.StatusCode.UNKNOWN
        self.details = status.message
        self.trailing_metadata = (("grpc-status-details-bin", status.SerializeToString()),)


def _failures(failures: list[sch.Failure]) -> list[provider_pb2.CheckFailure]:
    return [provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in failures]


def _diff_response(result: sch.DiffResult) -> provider_pb2.DiffResponse:
    kinds = provider_pb2.PropertyDiff.Kind
    detailed = {path: provider_pb2.PropertyDiff(kind=kinds.Value(kind)) for path, kind in result.changes.items()}
    tops = sorted({p.split(".")[0].split("[")[0] for p in result.changes})
    changes = provider_pb2.DiffResponse.DIFF_SOME if result.changes else provider_pb2.DiffResponse.DIFF_NONE
    return provider_pb2.DiffResponse(
        changes=changes,
        replaces=result.replaces,
        diffs=tops,
        detailedDiff=detailed,
        hasDetailedDiff=True,
        deleteBeforeReplace=result.delete_before_replace and bool(result.replaces),
    )


class Servicer(provider_pb2_grpc.ResourceProviderServicer):
    """The gRPC face of a :class:`Provider`. Every handler turns exceptions into gRPC errors."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.accept_secrets = True

    # --- plugin and configuration ---------------------------------------------------------
    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:  # noqa: N802 - the gRPC method name
        return plugin_pb2.PluginInfo(version=self.provider.version)

    def GetSchema(  # noqa: N802 - the gRPC method name
        self, request: provider_pb2.GetSchemaRequest, context: grpc.ServicerContext
    ) -> provider_pb2.GetSchemaResponse:
        p = self.provider
        # A minimal valid package schema: names and tokens, no types (the SDK is the typed face).
        spec = {
            "name": p.name,
            "version": p.version,
            "description": f"STAND-IN for the {p.name} provider (test double, not the real plugin)",
            "resources": {t: {"type": "object", "properties": {}} for t in p.resources},
            "functions": {t: {} for t in p.functions},
        }
        return provider_pb2.GetSchemaResponse(schema=json.dumps(spec))

    def CheckConfig(self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            news = unmarshal(request.news)
            known = {k: reveal(v) for k, v in news.items() if not contains_unknown(v)}
            failures = self.provider.check_config(known)
            return provider_pb2.CheckResponse(inputs=marshal(news), failures=_failures(failures))
        except Exception as error:  # every failure goes back to the engine
            _abort(context, error, self.provider.expected_errors)

    def DiffConfig(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        olds, news = unmarshal(request.olds), unmarshal(request.news)
        changed = sorted(k for k in set(olds) | set(news) if reveal(olds.get(k)) != reveal(news.get(k)))
        # The real provider's settings are not ForceNew: a new endpoint or password is an update.
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    def Configure(self, request: provider_pb2.ConfigureRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            args = unmarshal(request.args) if request.HasField("args") else dict(request.variables)
            self.accept_secrets = request.acceptSecrets
            self.provider.configure(Config({k: reveal(v) for k, v in args.items()}))
            return provider_pb2.ConfigureResponse(
                acceptSecrets=True, supportsPreview=True, acceptResources=False, acceptOutputs=False
            )
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802 - the gRPC method name
        self.provider.cancelled.set()
        return empty_pb2.Empty()

    def GetMapping(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        return provider_pb2.GetMappingResponse()  # no conversion mappings: empty, not an error

    def GetMappings(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        return provider_pb2.GetMappingsResponse()

    # --- functions --------------------------------------------------------------------------
    def Invoke(self, request: provider_pb2.InvokeRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            fn = self.provider.functions.get(request.tok)
            if fn is None:
                raise ProviderError(f"unknown function {request.tok!r} (this stand-in does not have it)")
            args = reveal(unmarshal(request.args))
            return provider_pb2.InvokeResponse(**{"return": marshal(fn(self.provider, args), self.accept_secrets)})
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    # --- resources --------------------------------------------------------------------------
    def Check(self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            news = unmarshal(request.news)
            failures: list[sch.Failure] = []
            inputs = sch.check_inputs(res.schema, news, failures)
            if res.autoname and "name" not in inputs:
                olds = unmarshal(request.olds)
                name = request.name or request.urn.rsplit("::", 1)[-1]
                inputs["name"] = olds.get("name") or sch.autoname(name, request.randomSeed)
            # Validators see unknowns (UNKNOWN) and must skip them: absent and unknown differ.
            failures += res.validate({k: reveal(v) for k, v in inputs.items()})
            return provider_pb2.CheckResponse(inputs=marshal(inputs, self.accept_secrets), failures=_failures(failures))
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Diff(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            olds, news = unmarshal(request.olds), unmarshal(request.news)
            ignore = tuple(request.ignoreChanges)
            return _diff_response(res.diff(olds, news, ignore))
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Create(self, request: provider_pb2.CreateRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            inputs = unmarshal(request.properties)
            if request.preview:
                outs = res.preview(inputs)
                return provider_pb2.CreateResponse(id="", properties=self._outputs(res, outs, inputs))
            resource_id, outs = res.create(reveal(inputs), request.timeout)
            return provider_pb2.CreateResponse(id=resource_id, properties=self._outputs(res, outs, inputs))
        except InitFailedError as error:
            error.outputs = reveal(self._outputs_plain(res, error.outputs, inputs))
            _abort(context, error, self.provider.expected_errors)
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Read(self, request: provider_pb2.ReadRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            state, inputs = unmarshal(request.properties), unmarshal(request.inputs)
            live = res.read(request.id, reveal(state), reveal(inputs))
            if live is None:  # gone: empty id and properties, never an error
                return provider_pb2.ReadResponse(id="")
            given = inputs or state
            outs = self._outputs(res, live, {**state, **given})
            # Inputs as the refreshed state implies them, for later diffs (the bridge does the same).
            new_inputs = {k: rewrap(live.get(k, v), v) for k, v in inputs.items()} if inputs else {}
            return provider_pb2.ReadResponse(
                id=request.id, properties=outs, inputs=marshal(new_inputs, self.accept_secrets)
            )
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Update(self, request: provider_pb2.UpdateRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            olds, news = unmarshal(request.olds), unmarshal(request.news)
            if request.preview:
                outs = res.preview_update(olds, news)
            else:
                outs = res.update(request.id, reveal(olds), reveal(news), request.timeout)
            return provider_pb2.UpdateResponse(properties=self._outputs(res, outs, news))
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    def Delete(self, request: provider_pb2.DeleteRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the gRPC method name
        try:
            res = self.provider.resource(request.type or _type_of(request.urn))
            res.delete(request.id, reveal(unmarshal(request.properties)), request.timeout)
            return empty_pb2.Empty()
        except Exception as error:
            _abort(context, error, self.provider.expected_errors)

    # --- helpers ----------------------------------------------------------------------------
    def _outputs_plain(self, res: Resource, outs: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        marked = rewrap(sch.mark_secrets(res.schema, outs), {k: v for k, v in inputs.items() if k in outs})
        return dict(marked) if isinstance(marked, dict) else {}

    def _outputs(self, res: Resource, outs: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
        return marshal(self._outputs_plain(res, outs, inputs), self.accept_secrets)


def _type_of(urn: str) -> str:
    """The type token of a URN (``urn:pulumi:stack::project::parent$type::name``)."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def serve(provider: Provider, port: int = 0) -> None:
    """Listen on loopback, print the port as the first stdout line, serve until killed."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(Servicer(provider), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    sys.stdout.write(f"{bound}\n")
    sys.stdout.flush()
    server.wait_for_termination()


__all__ = [
    "Config",
    "Function",
    "InitFailedError",
    "Provider",
    "ProviderError",
    "Resource",
    "Secret",
    "Servicer",
    "serve",
]
