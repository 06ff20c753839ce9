"""On-demand feature functions of the example.

They run at insert (stored, so training sees them) and again at serving time on the
request's values: the same code offline and online, so no training/serving skew.
Each must be self-contained, since Granary stores its source and re-creates it.
"""

from __future__ import annotations

from granary.transformations import udf


@udf(float, drop=["amount"])
def amount_vs_mean(amount, amount_mean_24h):
    """How unusual a payment is for the card: amount over its 24-hour average."""
    return amount / (amount_mean_24h + 1.0)


@udf(float)
def log_amount(amount):
    return np.log1p(amount)  # noqa: F821  (np is provided where udfs run)


@udf(int, drop=["hour_of_day"])
def is_night(hour_of_day):
    return ((hour_of_day < 5) | (hour_of_day > 22)).astype("int64")
