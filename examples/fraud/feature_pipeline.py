"""Feature pipeline: raw payments and cards in, three feature groups out.

One step is written in pandas (card activity), one in polars (card profiles), to show
that Granary takes either. Card activity and profiles are online-enabled: the online
inference pipeline reads their newest values per card.
"""

from __future__ import annotations

import pandas as pd
import polars as pl

import granary
from examples.fraud import data
from examples.fraud.features import amount_vs_mean, is_night, log_amount


def card_activity(raw: pd.DataFrame) -> pd.DataFrame:
    """pandas: the card's state at each payment: velocity and 24-hour average amount."""
    df = raw.sort_values("ts").set_index("ts")
    by_card = df.groupby("cc_num")["amount"]
    activity = pd.DataFrame(
        {
            "tx_last_hour": by_card.rolling("1h").count(),
            "amount_mean_24h": by_card.rolling("24h").mean(),
        }
    ).reset_index()
    activity = activity.merge(raw[["cc_num", "ts", "tid", "amount"]], on=["cc_num", "ts"])
    activity["hour_of_day"] = activity["ts"].dt.hour.astype("int64")
    return activity.drop_duplicates(["cc_num", "ts"]).drop(columns=["tid"])


def profile_features(cards: pd.DataFrame) -> pl.DataFrame:
    """polars: age and card tenure, valid from the day the card was issued."""
    return (
        pl.from_pandas(cards)
        .with_columns(
            age=((pl.lit(data.START) - pl.col("birthdate")).dt.total_days() / 365.25).round(1),
            tenure_days=(pl.lit(data.START) - pl.col("issued")).dt.total_days(),
        )
        .rename({"issued": "ts"})
        .select("cc_num", "ts", "age", "tenure_days", "credit_limit", "country")
    )


def run(project: granary.Project) -> dict[str, int]:
    fs = project.get_feature_store()
    cards = data.cards()
    payments = data.transactions(cards)

    profiles = fs.get_or_create_feature_group(
        name="card_profiles",
        version=1,
        primary_key=["cc_num"],
        event_time="ts",
        online_enabled=True,
        description="Card holder profile, valid from the issue date",
    )
    profiles.insert(profile_features(cards))

    activity = fs.get_or_create_feature_group(
        name="card_activity",
        version=1,
        primary_key=["cc_num"],
        event_time="ts",
        online_enabled=True,
        description="Per-card velocity at each payment; amount features computed on demand",
        transformation_functions=[
            amount_vs_mean("amount", "amount_mean_24h"),
            log_amount("amount"),
            is_night("hour_of_day"),
        ],
    )
    activity.insert(card_activity(payments))

    transactions = fs.get_or_create_feature_group(
        name="transactions",
        version=1,
        primary_key=["tid"],
        event_time="ts",
        description="Payments and their fraud labels: the spine of training data",
    )
    transactions.insert(payments)
    return {"cards": len(cards), "payments": len(payments)}


if __name__ == "__main__":
    print(run(granary.login()))
