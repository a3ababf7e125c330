"""Loads the business catalogue from its TOML files and refuses a bad one clearly.

Every error names the file, the business and the field, so that whoever edits the data can fix it
without reading code.
"""

from __future__ import annotations

import hashlib
import pickle
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from hotline.catalog.catalog import Catalog
from hotline.catalog.schema import Business, Category, Policy

DEFAULT_DIR = Path(__file__).with_name("data")


class CatalogError(ValueError):
    """The catalogue is malformed."""


# Parsed files by content: parsing is half of what building a Hotline costs, and a process that builds many (the
# tests, the benchmarks) reads the same files each time. Each caller gets its own copy (unpickled from our own
# bytes), so nothing parsed is shared.
_parsed: dict[bytes, bytes] = {}
_PARSED_MAX = 256


def _read(path: Path) -> dict:
    raw = path.read_bytes()
    key = hashlib.blake2b(raw, digest_size=16).digest()
    blob = _parsed.get(key)
    if blob is None:
        try:
            data = tomllib.loads(raw.decode())
        except tomllib.TOMLDecodeError as err:
            raise CatalogError(f"{path}: not valid TOML: {err}") from None
        blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[key] = blob
    return pickle.loads(blob)


def _first_error(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or "(business)"
    return field, first["msg"]


def load_catalog(directory: Path = DEFAULT_DIR, *, handlers: Iterable[str] | None = None,
                 products: Iterable[tuple[str, str]] | None = None) -> Catalog:
    """Every ``*.toml`` under ``directory``: ``categories.toml`` and the business files.

    ``handlers`` (names the service layer implements) and ``products`` ((code, kind) pairs) are
    checked when given, so a typo in either is caught at load rather than when a customer asks.
    """
    directory = Path(directory)
    cat_file = directory / "categories.toml"
    if not cat_file.exists():
        raise CatalogError(f"{cat_file}: missing (the catalogue's categories)")
    categories: list[Category] = []
    for i, entry in enumerate(_read(cat_file).get("category", [])):
        try:
            categories.append(Category.model_validate(entry))
        except ValidationError as err:
            field, msg = _first_error(err)
            raise CatalogError(f"{cat_file}: category {entry.get('code', f'#{i + 1}')}: field {field}: {msg}") from None
    known_categories = {c.code for c in categories}
    policies = _policies(directory / "policy.toml")
    handler_names = set(handlers) if handlers is not None else None
    product_kinds = dict(products) if products is not None else None

    businesses: list[tuple[Path, Business]] = []
    for path in sorted(directory.glob("*.toml")):
        if path in (cat_file, directory / "policy.toml"):
            continue
        for i, entry in enumerate(_read(path).get("business", [])):
            where = f"{path}: business {entry.get('code', f'#{i + 1}')}"
            try:
                b = Business.model_validate(entry)
            except ValidationError as err:
                field, msg = _first_error(err)
                raise CatalogError(f"{where}: field {field}: {msg}") from None
            if b.category not in known_categories:
                raise CatalogError(f"{where}: field category: unknown category {b.category!r} "
                                   f"(known: {', '.join(sorted(known_categories))})")
            if handler_names is not None and b.handler not in handler_names:
                raise CatalogError(f"{where}: field handler: no handler named {b.handler!r}")
            if product_kinds is not None:
                _check_products(where, b, product_kinds)
            businesses.append((path, b))
    if handler_names is not None:
        for name in policies:
            if name not in handler_names:
                raise CatalogError(f"{directory / 'policy.toml'}: handler {name!r}: no handler of that name")
    try:
        return Catalog(categories, [b for _, b in businesses], policies)
    except ValueError as err:
        owner = next((p for p, b in businesses if str(err).startswith(f"business {b.code}:")), directory)
        raise CatalogError(f"{owner}: {err}") from None


def _policies(path: Path) -> dict[str, Policy]:
    if not path.exists():
        return {}
    out: dict[str, Policy] = {}
    for name, entry in _read(path).get("handler", {}).items():
        try:
            out[name] = Policy.model_validate(entry)
        except ValidationError as err:
            field, msg = _first_error(err)
            raise CatalogError(f"{path}: handler {name!r}: field {field}: {msg}") from None
    return out


def _check_products(where: str, b: Business, kinds: dict[str, str]) -> None:
    for name, value in b.preset.items():
        slot = b.slot(name)
        if slot is not None and slot.type.value == "product":
            if value not in kinds:
                raise CatalogError(f"{where}: field preset.{name}: unknown product {value!r}")
            if kinds[value] not in slot.kinds:
                raise CatalogError(f"{where}: field preset.{name}: product {value!r} is a {kinds[value]}, "
                                   f"not one of {', '.join(slot.kinds)}")
