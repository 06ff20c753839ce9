"""Synthetic credit-card data with a fraud signal a model can learn.

Fraud is more likely for large amounts, at night, for young card holders and during
bursts of activity, so the example's model has something real to find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-01", tz="UTC")


def cards(n_cards: int = 2_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "cc_num": 4_000_000_000 + rng.choice(10_000_000, n_cards, replace=False),
            "birthdate": START - pd.to_timedelta(rng.integers(18 * 365, 85 * 365, n_cards), unit="D"),
            "issued": START - pd.to_timedelta(rng.integers(30, 3_000, n_cards), unit="D"),
            "credit_limit": rng.choice([1_000, 2_500, 5_000, 10_000], n_cards),
            "country": rng.choice(["US", "DE", "FR", "SE", "BR"], n_cards),
        }
    )


def transactions(card_table: pd.DataFrame, n: int = 60_000, days: int = 90, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cc = rng.choice(card_table["cc_num"].to_numpy(), n)
    seconds = np.sort(rng.integers(0, days * 86_400, n))
    ts = START + pd.to_timedelta(seconds, unit="s")
    amount = np.round(rng.lognormal(3.5, 1.1, n), 2)
    birth = pd.DatetimeIndex(card_table.set_index("cc_num").loc[cc, "birthdate"])
    age = (START - birth).days.to_numpy() / 365.25
    hour = ts.hour.to_numpy()
    logit = -5.5 + 2.0 * (amount > 150) + 2.2 * ((hour < 5) | (hour > 22)) + 1.5 * (age < 25)
    is_fraud = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "tid": np.arange(n, dtype="int64"),
            "cc_num": cc,
            "ts": ts,
            "amount": amount,
            "merchant_category": rng.choice(["grocery", "travel", "online", "fuel", "dining"], n),
            "is_fraud": is_fraud,
        }
    )
