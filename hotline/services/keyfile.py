"""Server secrets made once into the data dir when none is configured (the embedded default)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def data_secret(data_dir: Path | str, name: str, make: str | None = None) -> str:
    """The secret in ``data_dir/name``, made (mode 0600) by the first process to need it; processes
    starting together agree on the first one written."""
    path = Path(data_dir) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make or secrets.token_hex(32)
    partial = path.with_name(f".{name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(partial, path)        # the first process to start wins; the others read its secret
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return path.read_text().strip()
