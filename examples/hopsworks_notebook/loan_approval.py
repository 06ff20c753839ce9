# %% [markdown]
# # Loan approval, written for Hopsworks
#
# A feature -> training -> batch -> online pipeline that uses only Hopsworks' calls and
# imports, cell by cell as a notebook would. The one line changed to run it on Granary
# is the first import (was: `import hopsworks`). `login()` opens the embedded project
# in $GRANARY_HOME; with GRANARY_HOST and GRANARY_API_KEY it reaches a data plane.

# %%
from granary import hopsworks  # the one changed line (was: import hopsworks)

# isort: split
import numpy as np
import pandas as pd
from hsfs.builtin_transformations import label_encoder, min_max_scaler
from hsfs.client.exceptions import RestAPIError
from hsfs.feature import Feature
from sklearn.linear_model import LogisticRegression

project = hopsworks.login()
fs = project.get_feature_store()

# %% [markdown]
# ## Feature pipeline: applicants and their loans

# %%
rng = np.random.default_rng(7)
n = 400
applicants = pd.DataFrame(
    {
        "ApplicantId": np.arange(n),
        "UpdatedAt": 1735689600000 + np.arange(n) * 60_000,  # epoch milliseconds
        "Income": rng.uniform(20_000, 150_000, n).round(2),
        "HomeOwnership": rng.choice(["rent", "own", "mortgage"], n),
    }
)
loans = pd.DataFrame(
    {
        "applicant_id": np.arange(n),
        "applied_at": pd.Timestamp("2025-02-01", tz="UTC") + pd.to_timedelta(np.arange(n), "min"),
        "amount": rng.uniform(1_000, 40_000, n).round(2),
    }
)
loans["approved"] = (applicants["Income"] / loans["amount"] > 4).astype(int)

# %%
applicants_fg = fs.get_or_create_feature_group(
    name="applicants",
    version=1,
    description="Applicants as their bank knows them",
    primary_key=["ApplicantId"],
    event_time="UpdatedAt",
    online_enabled=True,
    features=[Feature("income", type="double", description="yearly, in euros")],
    statistics_config={"enabled": True, "histograms": True},
)
applicants_fg.insert(applicants)
applicants_fg.update_feature_description("homeownership", "rent, own or mortgage")
applicants_fg.add_tag("owner", {"team": "credit"})

loans_fg = fs.get_or_create_feature_group(
    name="loans", version=1, primary_key=["applicant_id"], event_time="applied_at", online_enabled=True
)
loans_fg.insert(loans)
loans_fg.show(3)

# %% [markdown]
# ## Training pipeline

# %%
query = loans_fg.select(["amount", "approved"]).join(
    applicants_fg.select_except(["applicantid"]), left_on=["applicant_id"], right_on=["applicantid"]
)
fv = fs.get_or_create_feature_view(
    name="loan_approval",
    version=1,
    query=query,
    labels=["approved"],
    transformation_functions=[min_max_scaler("income"), label_encoder("homeownership")],
)
X_train, X_test, y_train, y_test = fv.train_test_split(test_size=0.25, seed=3)
X_train = X_train.drop(columns=["updatedat"])
X_test = X_test.drop(columns=["updatedat"])
model = LogisticRegression(max_iter=1000).fit(X_train, y_train["approved"])
accuracy = float(model.score(X_test, y_test["approved"]))

# %% [markdown]
# ## Batch inference, with the statistics of the training dataset just read

# %%
fv.init_batch_scoring(1)
batch = fv.get_batch_data(start_time="2025/02/01").drop(columns=["updatedat"])
batch_predictions = model.predict(batch[X_train.columns])

# %% [markdown]
# ## Online inference

# %%
fv.init_serving(training_dataset_version=1)
view_features = [f.name for f in fv.schema]
vector = fv.get_feature_vector({"applicant_id": 5}, return_type="pandas")
online_prediction = int(model.predict(vector[X_train.columns])[0])

try:
    project.get_jobs_api()
except NotImplementedError as exc:  # Granary has no jobs service
    jobs_message = str(exc)

try:
    fs.get_feature_group("no_such_group", version=1)
except RestAPIError:
    missing_group_caught = True

summary = {
    "applicants": len(applicants_fg.read()),
    "train_rows": len(X_train),
    "test_rows": len(X_test),
    "accuracy": accuracy,
    "batch_rows": len(batch_predictions),
    "online_prediction": online_prediction,
    "training_datasets": [td.version for td in fv.get_training_datasets()],
    "view_features": view_features,
    "jobs": jobs_message,
    "missing_group_caught": missing_group_caught,
}
print(summary)
