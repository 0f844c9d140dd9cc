"""Entry point of the STAND-IN vSphere plugin (test double): ``python -m toolchain.standins.vsphere``."""

from toolchain.standins.server import serve
from toolchain.standins.vsphere import provider

serve(provider())
