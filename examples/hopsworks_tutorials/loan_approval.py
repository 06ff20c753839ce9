# %% [markdown]
# # Loan approval (hopsworks-tutorials: batch-ai-systems/loan_approval), ported
#
# The feature, training and batch inference notebooks' cells that call the feature
# store, in order, as they are published. Changed: the login line (`import hopsworks`
# becomes `from granary import hopsworks`), the Parquet and CSV downloads (small
# synthetic frames of the same schema) and the expectation suite, given in Great
# Expectations' JSON form instead of its 0.18 classes, and two pandas 3 changes. Marked `# port:` below.

# %%
import os
import warnings

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from granary import hopsworks  # port: was `import hopsworks`

warnings.filterwarnings("ignore")

# %% [markdown]
# ## Feature pipeline (1-loan-approval-feature-pipeline.ipynb)

# %%
# port: synthetic Lending Club loans and applicants instead of the downloads
rng = np.random.default_rng(3)
n = 500
issued = pd.Timestamp("2016-06-01") + pd.to_timedelta(rng.integers(0, 200, n), "D")
annual_inc = rng.uniform(20_000, 200_000, n).round(0)
loan_amnt = rng.uniform(1_000, 40_000, n).round(0)
loans_df = pd.DataFrame(
    {
        "id": np.arange(n),
        "loan_amnt": loan_amnt,
        "term": rng.choice([" 36 months", " 60 months"], n),
        "int_rate": rng.uniform(5, 25, n).round(2),
        "installment": (loan_amnt / 36).round(2),
        "sub_grade": rng.choice(["A1", "B2", "C3"], n),
        "issue_d": issued.strftime("%Y-%m-%d"),
        "loan_status": np.where(annual_inc / loan_amnt > 5, "Fully Paid", "Charged Off"),
        "purpose": rng.choice(["debt_consolidation", "credit_card", "car"], n),
        "zip_code": rng.choice(["22690", "05113", "00813"], n),
    }
)
applicants_df = pd.DataFrame(
    {
        "id": np.arange(n),
        "home_ownership": rng.choice(["RENT", "OWN", "MORTGAGE", "ANY"], n),
        "annual_inc": annual_inc,
        "verification_status": rng.choice(["Verified", "Not Verified"], n),
        "earliest_cr_line": (
            pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 9000, n), "D")
        ).strftime("%Y-%m-%d"),
        "open_acc": rng.integers(1, 30, n).astype(float),
        "pub_rec": rng.integers(0, 3, n).astype(float),
        "revol_bal": rng.uniform(0, 50_000, n).round(0),
        "revol_util": rng.uniform(0, 100, n).round(1),
        "total_acc": rng.integers(2, 60, n).astype(float),
        "mort_acc": rng.integers(0, 5, n).astype(float),
        "pub_rec_bankruptcies": rng.integers(0, 2, n).astype(float),
    }
)

# %%
applicants_df["home_ownership"] = applicants_df.home_ownership.apply(
    lambda h: "OTHER" if h in ("ANY", "NONE") else h
)
applicants_df["earliest_cr_line"] = pd.to_datetime(applicants_df["earliest_cr_line"])
loans_df["issue_d"] = pd.to_datetime(loans_df["issue_d"])
applicants_df["pub_rec"] = applicants_df.pub_rec.apply(lambda x: 0 if x == 0.0 else 1)

# %%
# port: the suite of cell 45 in Great Expectations' JSON form (its 0.18 classes
# ExpectationSuite(expectation_suite_name=) and ExpectationConfiguration are gone in 1.x)
expectation_suite = {
    "expectation_suite_name": "transaction_suite",
    "expectations": [
        {
            "expectation_type": "expect_column_values_to_be_between",
            "kwargs": {"column": "int_rate", "min_value": -2.0, "max_value": 2000.0},
        }
    ],
}

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
loans_fg = fs.get_or_create_feature_group(
    name="loans",
    version=1,
    description="Lending Club Loans",
    online_enabled=True,
    primary_key=["id"],
    event_time="issue_d",
    expectation_suite=expectation_suite,
)

# %%
applicants_fg = fs.get_or_create_feature_group(
    name="applicants",
    version=1,
    description="Lending Club Loan Applicants",
    online_enabled=True,
    primary_key=["id"],
    event_time="earliest_cr_line",
)

# %%
loans_fg.insert(loans_df)
applicants_fg.insert(applicants_df)

# %%
# port: a few rows of LCDataDictionary.csv instead of its download
metadata = pd.DataFrame(
    {
        "LoanStatNew": ["int_rate", "annual_inc", "emp_title", "zip_code"],
        "Description": ["Interest Rate on the loan", "Self-reported annual income", "Job title", "Zip code"],
    }
)

for entry in metadata.index:
    name = metadata["LoanStatNew"][entry]
    try:
        f = loans_fg.get_feature(name)
        loans_fg.update_feature_description(name, metadata["Description"][entry])
        print(f"⛳️ Updating description of feature: {f.name}")
    except:  # noqa: E722 (as the notebook has it)
        pass

    try:
        f = applicants_fg.get_feature(name)
        applicants_fg.update_feature_description(name, metadata["Description"][entry])
        print(f"⛳️ Updating description of feature: {f.name}")
    except:  # noqa: E722
        pass

# %% [markdown]
# ## Training pipeline (2-loan-approval-training-pipeline.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

fg_loans = fs.get_feature_group(
    name="loans",
    version=1,
)

fg_applicants = fs.get_feature_group(
    name="applicants",
    version=1,
)

# %%
selected_features = fg_loans.select_features().join(fg_applicants.select_features())

# %%
feature_view = fs.get_or_create_feature_view(
    name="loans_approvals",
    version=1,
    description="Loan applicant data",
    labels=["loan_status"],
    query=selected_features,
)

# %%
X_train, X_test, y_train, y_test = feature_view.train_test_split(
    test_size=0.2,
)

# %%
# port: pandas 3 reads strings as its `str` dtype, not object
categorical_features = [col for col in X_train.columns if not pd.api.types.is_numeric_dtype(X_train[col])]
numeric_features = [col for col in X_train.columns if pd.api.types.is_numeric_dtype(X_train[col])]

# %%
numeric_transformer = Pipeline(
    steps=[("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]
)
categorical_transformer = Pipeline(
    steps=[
        ("encoder", OneHotEncoder(handle_unknown="ignore")),
        ("selector", SelectPercentile(chi2, percentile=50)),
    ]
)
preprocessor = ColumnTransformer(
    transformers=[
        ("num", numeric_transformer, numeric_features),
        ("cat", categorical_transformer, categorical_features),
    ]
)

# %%
y_train["loan_status"] = y_train.loan_status.map({"Fully Paid": 1, "Charged Off": 0})
y_test["loan_status"] = y_test.loan_status.map({"Fully Paid": 1, "Charged Off": 0})

# %%
clf = Pipeline(steps=[("preprocessor", preprocessor), ("classifier", LogisticRegression())])
clf.fit(X_train, y_train["loan_status"].to_numpy().ravel())  # port: pandas 3 Series has no ravel()

# %%
accuracy = roc_auc_score(y_test, clf.predict(X_test))

# %%
mr = project.get_model_registry()

model_dir = "lending_model"
images_dir = os.path.join(model_dir, "images")
os.makedirs(images_dir, exist_ok=True)
joblib.dump(clf, os.path.join(model_dir, "lending_model.pkl"))

# %%
fraud_model = mr.sklearn.create_model(
    "lending_model",
    metrics={"accuracy": accuracy},
    input_example=X_test.sample().to_numpy(),
    feature_view=feature_view,
)

fraud_model.save(model_dir)

# %% [markdown]
# ## Batch inference (3-loan-approval-batch-inference.ipynb)

# %%
FV_VERSION = 1
MODEL_VERSION = 1

START_TIME_DATA = "2016-11-01"
END_TIME_DATA = "2016-12-01"

# %%
project = hopsworks.login()

mr = project.get_model_registry()

# %%
retrieved_model = mr.get_model(
    "lending_model",
    version=MODEL_VERSION,
)

model_dir = retrieved_model.download()

model = joblib.load(model_dir + "/lending_model.pkl")

# %%
feature_view = retrieved_model.get_feature_view()

# %%
batch_data = feature_view.get_batch_data(
    start_time=START_TIME_DATA,
    end_time=END_TIME_DATA,
)

batch_data.head(3)

# %%
predictions = model.predict(batch_data)

predictions[:10]

november = ((loans_df["issue_d"] >= START_TIME_DATA) & (loans_df["issue_d"] < END_TIME_DATA)).sum()
summary = {
    "train_columns": list(X_train.columns),
    "split_rows": len(X_train) + len(X_test),
    "roc_auc": float(accuracy),
    "batch_rows": len(batch_data),
    "november_loans": int(november),
    "predictions": sorted(int(p) for p in set(predictions)),
    "descriptions": {
        f.name: f.description for f in fg_loans.features + fg_applicants.features if f.description
    },
}
print(summary)
