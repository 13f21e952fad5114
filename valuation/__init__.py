"""Government & enterprise account valuation: value, loyalty, competitor entanglement, churn."""

__all__ = ["__version__"]

__version__ = "0.1.0"
