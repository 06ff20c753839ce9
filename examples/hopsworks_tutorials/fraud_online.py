# %% [markdown]
# # Online fraud (hopsworks-tutorials: real-time-ai-systems/fraud_online), ported
#
# The feature, training and online inference notebooks' cells that call the feature
# store, in order, as they are published. Changed: the login line, the CSV downloads
# (small synthetic frames of the same schema), the Great Expectations 0.18 calls (the
# same suites built with Great Expectations 1), XGBoost (scikit-learn). The deployment
# and its predictor script are run here as the script's `predict` does, in process.
# Feature logging (`logging_enabled=True`, `fv.log`, `read_log`) is a part Granary
# does not have: `logging_enabled` is accepted and each logging call is NotSupported.

# %%
import os
import warnings

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier  # port: was xgboost

from granary import hopsworks  # port: was `import hopsworks`

warnings.filterwarnings("ignore")

# %%
# port: synthetic cash withdrawals and card holders after prepare_transactions_fraud
rng = np.random.default_rng(17)
n, cards = 400, 40
cc = rng.integers(0, cards, n) + 4_467_360_740_682_000
trans_df = pd.DataFrame(
    {
        "tid": [f"t{i:05d}" for i in range(n)],
        "datetime": pd.Timestamp("2022-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 89 * 24, n)), "h"),
        "cc_num": cc,
        "amount": rng.uniform(10, 1000, n).round(2),
        "country": rng.choice(["US", "SE", "DE"], n),
        "loc_delta_t_minus_1": rng.uniform(0, 1, n),
        "time_delta_t_minus_1": rng.uniform(0, 30, n),
    }
)
trans_df["fraud_label"] = ((trans_df["amount"] > 800) & (trans_df["loc_delta_t_minus_1"] > 0.5)).astype(int)
profiles_df = pd.DataFrame({"cc_num": np.unique(cc)})
profiles_df["gender"] = rng.choice(["M", "F"], len(profiles_df))

# %%
# port: cells 15-18 with Great Expectations 1 (0.18's ge.from_pandas and
# ExpectationConfiguration are gone)
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
expectation_suite_profiles = ge.core.ExpectationSuite(name="profiles_suite")
expectation_suite_profiles.expectations.append(
    ge.expectations.ExpectColumnDistinctValuesToBeInSet(column="gender", value_set=["M", "F"])
)
expectation_suite_profiles.expectations.append(
    ge.expectations.ExpectColumnValuesToBeNull(column="cc_num", mostly=0.0)
)

# %% [markdown]
# ## Feature pipeline (1_fraud_online_feature_pipeline.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
trans_fg = fs.get_or_create_feature_group(
    name="transactions_fraud_online_fg",
    version=1,
    description="Transaction data",
    primary_key=["cc_num"],
    event_time="datetime",
    online_enabled=True,
    expectation_suite=expectation_suite_transactions,
)
trans_fg.insert(trans_df)

# %%
profile_fg = fs.get_or_create_feature_group(
    name="profile_fraud_online_fg",
    version=1,
    description="Credit card holder demographic data",
    primary_key=["cc_num"],
    online_enabled=True,
    expectation_suite=expectation_suite_profiles,
)
profile_fg.insert(profiles_df)

# %%
trans_fg = fs.get_or_create_feature_group("transactions_fraud_online_fg", version=1)
trans_fg.statistics_config = {
    "enabled": True,
    "histograms": True,
    "correlations": True,
}

trans_fg.update_statistics_config()
trans_fg.compute_statistics()

# %% [markdown]
# ## Training pipeline (2_fraud_online_training_pipeline.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

trans_fg = fs.get_feature_group(name="transactions_fraud_online_fg", version=1)
profile_online_fg = fs.get_feature_group(name="profile_fraud_online_fg", version=1)

selected_features = trans_fg.select_all().join(profile_online_fg.select_all(include_primary_key=False))

# %%
from hopsworks.hsfs.builtin_transformations import label_encoder  # noqa: E402

transformation_functions = [
    label_encoder("country"),
    label_encoder("gender"),
]

feature_view = fs.get_or_create_feature_view(
    name="transactions_fraud_online_fv",
    version=1,
    query=selected_features,
    labels=["fraud_label"],
    transformation_functions=transformation_functions,
    logging_enabled=True,
)

# %%
train_start = "2022/01/01"
train_end = "2022/03/10"
test_start = "2022/03/10"
test_end = "2022/03/31"

X_train, X_test, y_train, y_test = feature_view.train_test_split(
    train_start=train_start,
    train_end=train_end,
    test_start=test_start,
    test_end=test_end,
)

# %%
X_train = X_train.sort_values("datetime")
y_train = y_train.reindex(X_train.index)
X_test = X_test.sort_values("datetime")
y_test = y_test.reindex(X_test.index)

test_sample = X_test.cc_num.values[0]

X_train.drop(["tid", "cc_num", "datetime"], axis=1, inplace=True)
X_test.drop(["tid", "cc_num", "datetime"], axis=1, inplace=True)

# %%
model = HistGradientBoostingClassifier(random_state=0)  # port: was xgb.XGBClassifier()
model.fit(X_train, y_train.values.ravel())

# %%
model_dir = "fraud_online_model"
images_dir = os.path.join(model_dir, "images")
os.makedirs(images_dir, exist_ok=True)
joblib.dump(model, os.path.join(model_dir, "xgboost_fraud_online_model.pkl"))

mr = project.get_model_registry()

fraud_model = mr.python.create_model(
    name="xgboost_fraud_online_model",
    description="Fraud Online Predictor",
    metrics={"accuracy": float(model.score(X_test, y_test))},
    input_example=[4467360740682089],
    feature_view=feature_view,
)

fraud_model.save(model_dir)

# %% [markdown]
# ## Online inference (predict_example.py and 3_fraud_online_inference_pipeline.ipynb)

# %%
project = hopsworks.login()
fs = project.get_feature_store()
trans_fg = fs.get_feature_group("transactions_fraud_online_fg", version=1)

cc_nums = trans_fg.select("cc_num").show(5).cc_num.values

# %%
# port: Predict.__init__ and Predict.predict of predict_example.py, in process
mr = project.get_model_registry()
retrieved_model = mr.get_model(name="xgboost_fraud_online_model", version=1)
feature_view = retrieved_model.get_feature_view()
feature_view.init_serving()
served = joblib.load(retrieved_model.download() + "/xgboost_fraud_online_model.pkl")


def predict(inputs):
    untransformed_feature_vector = feature_view.get_feature_vector({"cc_num": inputs[0][0]}, transform=False)
    feature_vector = feature_view.transform(untransformed_feature_vector)
    indexes_to_remove = [0, 1, 2]
    feature_vector_model = [i for j, i in enumerate(feature_vector) if j not in indexes_to_remove]
    return served.predict(np.asarray(feature_vector_model).reshape(1, -1)).tolist()


predictions = [predict([[int(cc_num)]]) for cc_num in cc_nums]

summary = {
    "train_columns": list(X_train.columns),
    "split_rows": len(X_train) + len(X_test),
    "predictions": [p[0] for p in predictions],
    # the three columns predict() drops by index: the transaction's id, time and card
    "vector_head": feature_view.get_feature_vector({"cc_num": int(cc_nums[0])}, transform=False)[:3],
    "statistics": sorted(trans_fg.get_statistics()["statistics"]),
}
print(summary)
