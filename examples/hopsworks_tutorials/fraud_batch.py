# %% [markdown]
# # Batch fraud (hopsworks-tutorials: batch-ai-systems/fraud_batch), ported
#
# The feature, training and batch inference notebooks' cells that call the feature
# store, in order, as they are published. Changed: the login line (`import hopsworks`
# becomes `from granary import hopsworks`), the CSV downloads (small synthetic frames of
# the same schema, after the tutorial's feature engineering), the Great Expectations
# 0.18 calls (`ge.from_pandas`, `ExpectationConfiguration`: the same suite built with
# Great Expectations 1, the version that installs beside pandas 3) and XGBoost
# (scikit-learn's gradient boosting, saved with joblib). Marked `# port:` below.

# %%
import os
import warnings

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier  # port: was xgboost
from sklearn.metrics import confusion_matrix, f1_score

from granary import hopsworks  # port: was `import hopsworks`

warnings.filterwarnings("ignore")

# %% [markdown]
# ## Feature pipeline (1_fraud_batch_feature_pipeline.ipynb)

# %%
# port: synthetic transactions and 4h window aggregates instead of the CSV downloads
rng = np.random.default_rng(11)
n, cards = 600, 60
start_ms = 1_672_531_200_000  # 2023-01-01 UTC, epoch milliseconds as cell 17 makes them
trans_df = pd.DataFrame(
    {
        "tid": [f"t{i:05d}" for i in range(n)],
        "datetime": start_ms + np.arange(n) * 3_600_000,
        "cc_num": rng.integers(0, cards, n) + 4_000_000_000_000_000,
        "category": rng.choice(["Grocery", "Restaurant/Cafeteria", "Health/Beauty", "Domestic Transport"], n),
        "amount": rng.uniform(1, 500, n).round(2),
        "latitude": np.radians(rng.uniform(30, 45, n)),
        "longitude": np.radians(rng.uniform(-120, -75, n)),
        "city": rng.choice(["Portland", "Austin", "Boston"], n),
        "country": "US",
        "age_at_transaction": rng.uniform(18, 90, n),
        "days_until_card_expires": rng.uniform(0, 1500, n),
        "loc_delta": rng.uniform(0, 0.5, n),
    }
)
trans_df["fraud_label"] = ((trans_df["amount"] > 400) & (trans_df["loc_delta"] > 0.3)).astype(int)
window_aggs_df = trans_df[["datetime", "cc_num"]].assign(
    trans_volume_mstd=rng.uniform(0, 100, n),
    trans_volume_mavg=rng.uniform(0, 300, n),
    trans_freq=rng.integers(1, 5, n).astype(float),
    loc_delta_mavg=rng.uniform(0, 0.5, n),
)
window_len = "4h"

# %%
# port: the suite of cells 19-20 built with Great Expectations 1 (0.18's
# ge.from_pandas(df).get_expectation_suite() and ExpectationConfiguration are gone)
import great_expectations as ge  # noqa: E402

expectation_suite_transactions = ge.core.ExpectationSuite(name="transactions_suite")
expectation_suite_transactions.expectations.append(
    ge.expectations.ExpectColumnDistinctValuesToBeInSet(column="fraud_label", value_set=[0, 1])
)
expectation_suite_transactions.expectations.append(
    ge.expectations.ExpectColumnValuesToBeBetween(column="amount", min_value=0.0)
)
for column in ["tid", "datetime", "cc_num"]:
    expectation_suite_transactions.expectations.append(
        ge.expectations.ExpectColumnValuesToBeNull(column=column, mostly=0.0)
    )

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
trans_fg = fs.get_or_create_feature_group(
    name="transactions_fraud_batch_fg",
    version=1,
    description="Transaction data",
    primary_key=["cc_num"],
    event_time="datetime",
    expectation_suite=expectation_suite_transactions,
)

# %%
trans_fg.insert(trans_df)
print("✅ Done!")

# %%
feature_descriptions = [
    {"name": "tid", "description": "Transaction id"},
    {"name": "datetime", "description": "Transaction time"},
    {"name": "cc_num", "description": "Number of the credit card performing the transaction"},
    {"name": "category", "description": "Expense category"},
    {"name": "amount", "description": "Dollar amount of the transaction"},
    {"name": "latitude", "description": "Transaction location latitude"},
    {"name": "longitude", "description": "Transaction location longitude"},
    {"name": "city", "description": "City in which the transaction was made"},
    {"name": "country", "description": "Country in which the transaction was made"},
    {"name": "fraud_label", "description": "Whether the transaction was fraudulent or not"},
    {"name": "age_at_transaction", "description": "Age of the card holder when the transaction was made"},
    {
        "name": "days_until_card_expires",
        "description": "Card validity days left when the transaction was made",
    },
    {"name": "loc_delta", "description": "Haversine distance between this transaction and the previous one"},
]

for desc in feature_descriptions:
    trans_fg.update_feature_description(desc["name"], desc["description"])

# %%
window_aggs_fg = fs.get_or_create_feature_group(
    name=f"transactions_{window_len}_aggs_fraud_batch_fg",
    version=1,
    description=f"Aggregate transaction data over {window_len} windows.",
    primary_key=["cc_num"],
    event_time="datetime",
)

# %%
window_aggs_fg.insert(window_aggs_df)
print("✅ Done!")

# %%
feature_descriptions = [
    {"name": "datetime", "description": "Transaction time"},
    {"name": "cc_num", "description": "Number of the credit card performing the transaction"},
    {"name": "loc_delta_mavg", "description": "Moving average of location difference"},
    {"name": "trans_freq", "description": "Moving average of transaction frequency from the same card"},
    {"name": "trans_volume_mavg", "description": "Moving average of transaction volume from the same card"},
    {"name": "trans_volume_mstd", "description": "Moving standard deviation of transaction volume"},
]

for desc in feature_descriptions:
    window_aggs_fg.update_feature_description(desc["name"], desc["description"])

# %% [markdown]
# ## Training pipeline (2_fraud_batch_training_pipeline.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
trans_fg = fs.get_feature_group(
    name="transactions_fraud_batch_fg",
    version=1,
)
window_aggs_fg = fs.get_feature_group(
    name="transactions_4h_aggs_fraud_batch_fg",
    version=1,
)

# %%
selected_features = trans_fg.select(
    ["fraud_label", "category", "amount", "age_at_transaction", "days_until_card_expires", "loc_delta"]
).join(window_aggs_fg.select_all(include_primary_key=False))

# %%
from hopsworks.hsfs.builtin_transformations import label_encoder  # noqa: E402

transformation_functions = [
    label_encoder("category"),
]

# %%
feature_view = fs.get_or_create_feature_view(
    name="transactions_view_fraud_batch_fv",
    version=1,
    query=selected_features,
    labels=["fraud_label"],
    transformation_functions=[label_encoder("category")],
)

# %%
TEST_SIZE = 0.2

X_train, X_test, y_train, y_test = feature_view.train_test_split(
    test_size=TEST_SIZE,
)

# %%
X_train = X_train.sort_values("datetime")
y_train = y_train.reindex(X_train.index)
X_test = X_test.sort_values("datetime")
y_test = y_test.reindex(X_test.index)

# %%
X_train.drop(["datetime"], axis=1, inplace=True)
X_test.drop(["datetime"], axis=1, inplace=True)

# %%
y_train.value_counts(normalize=True)

# %%
model = HistGradientBoostingClassifier(random_state=0)  # port: was xgb.XGBClassifier()
model.fit(X_train, y_train.values.ravel())

# %%
y_pred_train = model.predict(X_train)
y_pred_test = model.predict(X_test)

# %%
metrics = {"f1_score": f1_score(y_test, y_pred_test, average="macro")}
results = confusion_matrix(y_test, y_pred_test)

# %%
model_dir = "fraud_batch_model"
images_dir = os.path.join(model_dir, "images")
os.makedirs(images_dir, exist_ok=True)
joblib.dump(model, os.path.join(model_dir, "model.pkl"))  # port: was model.save_model("model.json")

# %%
mr = project.get_model_registry()

fraud_model = mr.python.create_model(
    name="xgboost_fraud_batch_model",
    description="Fraud Batch Predictor",
    metrics=metrics,
    input_example=X_train.sample(),
    feature_view=feature_view,
)

fraud_model.save(model_dir)

# %% [markdown]
# ## Batch inference (3_fraud_batch_inference.ipynb)

# %%
project = hopsworks.login()

mr = project.get_model_registry()

# %%
retrieved_model = mr.get_model(
    name="xgboost_fraud_batch_model",
    version=1,
)

saved_model_dir = retrieved_model.download()

# %%
model = joblib.load(saved_model_dir + "/model.pkl")  # port: was XGBClassifier().load_model(".../model.json")

# %%
feature_view = retrieved_model.get_feature_view()

# %%
feature_view.init_batch_scoring(1)

untransformed_batch_data = feature_view.get_batch_data(transformed=False)
transformed_batch_data = feature_view.get_batch_data()

batch_data = transformed_batch_data.drop(["datetime"], axis=1)

batch_data.head(3)

# %%
predictions = model.predict(batch_data)

predictions[:5]

summary = {
    "rows": len(trans_df),
    "train_columns": list(X_train.columns),
    "train_rows": len(X_train) + len(X_test),
    "f1_score": float(metrics["f1_score"]),
    "validation": trans_fg.get_latest_validation_report()["success"],
    "descriptions": sum(bool(f.description) for f in trans_fg.features),
    "untransformed_categories": sorted(untransformed_batch_data["category"].unique()),
    "batch_columns": list(batch_data.columns),
    "predictions": len(predictions),
}
print(summary)
