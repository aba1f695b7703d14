"""Telling "offline" apart quickly, so that a missing pretrained file fails at once.

Weight downloads (timm through the Hugging Face hub client, torchvision through
``torch.hub``) can spend tens of seconds in retries before they fail offline. Before one is
started, :func:`unreachable` tries a single TCP connection to the host with a short timeout,
and :func:`offline_env` reads the hub's own offline switches.

Not a paper's method: plumbing shared by :mod:`harlearn.transformers.pretrained` and
:mod:`harlearn.models.backbones.weights`.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import urllib.request

__all__ = ["PROBE_TIMEOUT", "unreachable", "offline_env"]

#: Seconds to wait for a host before calling it unreachable.
PROBE_TIMEOUT = 3.0


def unreachable(url: str, timeout: float = PROBE_TIMEOUT) -> OSError | None:
    """None when a TCP connection to ``url``'s host opens within ``timeout`` s, else the error.

    Behind a proxy the host cannot be probed directly, so it is taken as reachable (the
    download then decides).

    Args:
        url: an ``http`` or ``https`` address.
        timeout: seconds to wait for the connection.

    Returns:
        None (reachable, or behind a proxy) or the ``OSError`` of the failed connection.
    """
    parts = urllib.parse.urlparse(url)
    if urllib.request.getproxies().get(parts.scheme):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as err:
        return err
    return None


def offline_env() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    return any(
        os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
