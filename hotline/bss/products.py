"""Loads the reference operator's product catalogue from TOML, refusing a bad file clearly."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from hotline.domain.products import Product, ProductCatalog

DEFAULT_PRODUCTS = Path(__file__).with_name("products.toml")


class CatalogError(ValueError):
    """The product file is malformed; the message names the file, the product and the field."""


def load_products(path: Path = DEFAULT_PRODUCTS) -> ProductCatalog:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(f"{path}: not valid TOML: {err}") from None
    products = []
    for i, entry in enumerate(data.get("product", [])):
        try:
            products.append(Product.model_validate(entry))
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "(product)"
            raise CatalogError(f"{path}: product {entry.get('code', f'#{i + 1}')}: field {field}: "
                               f"{first['msg']}") from None
    try:
        return ProductCatalog(products)
    except ValueError as err:
        raise CatalogError(f"{path}: {err}") from None
