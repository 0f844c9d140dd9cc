"""The vCenter part of a dynamic resource's props: where to connect and as whom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr

if TYPE_CHECKING:
    from .connection import Endpoint


class VCenterProps(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    server: str = Field(min_length=1)
    port: int = Field(default=443, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None

    def endpoint(self) -> Endpoint:
        from .connection import Endpoint  # pyVmomi only where vCenter is spoken to

        return Endpoint(
            host=self.server,
            port=self.port,
            username=self.username,
            password=self.password.get_secret_value(),
            insecure=self.insecure,
            ca_cert=self.ca_cert,
            thumbprint=self.thumbprint,
        )
