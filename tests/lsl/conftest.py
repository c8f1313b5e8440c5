"""Real liblsl (from the pylsl wheel) on this machine only.

LSL finds streams by UDP multicast and broadcast; where a sandbox or firewall drops those,
``KnownPeers = {127.0.0.1}`` makes liblsl ask the loopback address directly. The config is
written before liblsl first reads it (``LSLAPICFG``, liblsl's ``api_config.cpp``), and child
processes (``stresstrack collect``) inherit it. Every test's streams have unique source ids,
so parallel runs on one machine do not see each other's streams.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_CFG = Path(tempfile.mkdtemp(prefix="stresstrack-lsl-")) / "lsl_api.cfg"
# PortRange: each outlet takes a port from BasePort on, and a KnownPeers query asks only the
# ports of the range (liblsl's default 32); with the outlets of other test runs on the same
# machine, later outlets got ports outside it and were never resolved (2 runs at once, here).
_CFG.write_text(
    "[multicast]\nResolveScope = machine\n\n[lab]\nKnownPeers = {127.0.0.1}\n\n"
    "[ports]\nPortRange = 256\n"
)
os.environ["LSLAPICFG"] = str(_CFG)
