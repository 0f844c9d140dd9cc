"""What vCenter answers that is worth the same request again, and the errors it ends in.

The backoff itself is the providers' one policy (:mod:`providers.retry`).
"""

from __future__ import annotations

# 409: a concurrent change won; 429: throttled; 5xx: vpxd or the reverse proxy restarting.
TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})


class VCenterError(RuntimeError):
    """vCenter could not be reached or refused a request after the retries."""


class VCenterNotFoundError(VCenterError, LookupError):
    """vCenter answered that the object asked for does not exist (HTTP 404): deleted, or never made."""
