"""Feature pipeline: raw data in, features out, inserted into two feature groups.

One step is written in pandas (transaction features), one in polars (card profiles),
to show that Granary takes either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

import granary
from examples.fraud import data


def transaction_features(raw: pd.DataFrame) -> pd.DataFrame:
    """pandas: time-of-day, and how busy the card was in the hour before each payment."""
    df = raw.sort_values("ts").copy()
    df["hour_of_day"] = df["ts"].dt.hour.astype("int64")
    df["is_night"] = ((df["hour_of_day"] < 5) | (df["hour_of_day"] > 22)).astype("int64")
    counts = (
        df.set_index("ts")
        .groupby("cc_num")["amount"]
        .rolling("1h")
        .count()
        .rename("tx_last_hour")
        .reset_index()
    )
    df = df.merge(counts, on=["cc_num", "ts"], how="left").drop_duplicates("tid")
    df["log_amount"] = np.log1p(df["amount"])
    return df


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
    tx = transaction_features(data.transactions(cards))

    profiles = fs.get_or_create_feature_group(
        name="card_profiles",
        version=1,
        primary_key=["cc_num"],
        event_time="ts",
        description="Card holder profile, valid from the issue date",
    )
    profiles.insert(profile_features(cards))
    transactions = fs.get_or_create_feature_group(
        name="transactions",
        version=1,
        primary_key=["tid"],
        event_time="ts",
        description="Card payments with time-of-day and velocity features",
    )
    transactions.insert(tx)
    return {"card_profiles": len(cards), "transactions": len(tx)}


if __name__ == "__main__":
    print(run(granary.login()))
