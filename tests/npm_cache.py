"""npm packages for tests, installed once into the repo's ``.cache/<folder>`` (gitignored).

Tests skip when npm or node is missing, unless ``LIFTOFF_REQUIRE_NODE=1`` (set by ``.ci/run``), where
a missing Node.js is a failure rather than a silently skipped test.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE_ROOT = Path(__file__).resolve().parent.parent / ".cache"


def installed_version(folder: Path, package: str) -> str | None:
    manifest = folder / "node_modules" / package / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.exists() else None


def require(tool: str) -> str:
    """The path of ``node`` or ``npm``; skips the test (or fails in CI) when it is not installed."""
    path = shutil.which(tool)
    if path:
        return path
    if os.environ.get("LIFTOFF_REQUIRE_NODE") == "1":
        pytest.fail(f"{tool} is not installed (LIFTOFF_REQUIRE_NODE=1)")
    pytest.skip(f"{tool} is not installed")


def install(package: str, version: str, folder: str | None = None) -> Path:
    """Install ``package@version`` into ``.cache/<folder>`` unless it is there; returns the folder.

    xdist workers start at once: one installs while the others wait on a lock file.
    """
    target = CACHE_ROOT / (folder or package)
    if installed_version(target, package) == version:
        return target
    npm = require("npm")
    target.mkdir(parents=True, exist_ok=True)
    with (CACHE_ROOT / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(target, package) == version:
            return target
        manifest = target / "package.json"
        if not manifest.exists():
            manifest.write_text(json.dumps({"name": f"liftoff-test-{target.name}", "private": True}) + "\n")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", f"{package}@{version}"],
            cwd=target, check=True, timeout=900,
        )
    return target
