"""hotline: an omnichannel customer-service platform for mobile operators."""

__version__ = "0.1.0"
