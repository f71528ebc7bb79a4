"""Publishing networks, discovered from the modules of this package.

Every module here (except `base`) exposes `NETWORK`, an instance of `base.Network`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from mindpost.core.errors import Invalid, NotFound
from mindpost.posts.networks.base import Network


@cache
def all_networks() -> dict[str, Network]:
    found: dict[str, Network] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        network = getattr(module, "NETWORK", None)
        if isinstance(network, Network):
            found[network.slug] = network
    return dict(sorted(found.items()))


def get(slug: str) -> Network:
    network = all_networks().get(slug)
    if network is None:
        raise NotFound(f"Unknown network {slug!r}.")
    return network


def for_post_type(post_type: str) -> Network:
    """The network a reference `post_type` value ("twitter", "x", "linkedin") stands for."""
    wanted = (post_type or "").strip().lower()
    for network in all_networks().values():
        if wanted == network.slug or wanted in network.post_types:
            return network
    choices = sorted({name for n in all_networks().values() for name in n.post_types})
    raise Invalid(
        f"Unknown post_type {post_type!r}.",
        code="unknown_post_type",
        fields={"post_type": [f"Choose one of: {', '.join(choices)}."]},
    )
