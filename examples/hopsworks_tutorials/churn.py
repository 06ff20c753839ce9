# %% [markdown]
# # Customer churn (hopsworks-tutorials: batch-ai-systems/churn), ported
#
# The feature, training and batch inference notebooks' cells that call the feature
# store, in order, as they are published. Changed: the login line (`import hopsworks`
# becomes `from granary import hopsworks`), the CSV downloads (small synthetic frames of
# the same schema) and XGBoost (scikit-learn's gradient boosting, saved with joblib).
# Marked `# port:` below.

# %%
import os
import warnings

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier  # port: was xgboost
from sklearn.metrics import accuracy_score, f1_score

from granary import hopsworks  # port: was `import hopsworks`

warnings.filterwarnings("ignore")

# %% [markdown]
# ## Feature pipeline (1_churn_feature_pipeline.ipynb)

# %%
# port: synthetic customers instead of the CSV downloads, with the downloads' columns
rng = np.random.default_rng(5)
n = 500
ids = [f"{i:04d}-CUST" for i in range(n)]
recorded = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 60, n), "D")
yes_no = ["Yes", "No"]
demography_df = pd.DataFrame(
    {
        "customerID": ids,
        "gender": rng.choice(["Female", "Male"], n),
        "SeniorCitizen": rng.integers(0, 2, n),
        "Partner": rng.choice(yes_no, n),
        "Dependents": rng.choice(yes_no, n),
    }
)
tenure = rng.integers(0, 72, n)
contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
customer_info_df = pd.DataFrame(
    {
        "customerID": ids,
        "Contract": contract,
        "tenure": tenure,
        "PaymentMethod": rng.choice(["Electronic check", "Mailed check", "Credit card (automatic)"], n),
        "PaperlessBilling": rng.choice(yes_no, n),
        "MonthlyCharges": rng.uniform(18, 120, n).round(2),
        "TotalCharges": [str(round(t * 60.0, 2)) if t else " " for t in tenure],  # blanks, as in the CSV
        "Churn": np.where((contract == "Month-to-month") & (tenure < 12), "Yes", "No"),
        "datetime": recorded,
    }
)
subscriptions_df = pd.DataFrame(
    {
        "customerID": ids,
        "datetime": recorded,
        "DeviceProtection": rng.choice(yes_no, n),
        "OnlineBackup": rng.choice(yes_no, n),
        "OnlineSecurity": rng.choice(yes_no, n),
        "InternetService": rng.choice(["DSL", "Fiber optic", "No"], n),
        "MultipleLines": rng.choice(yes_no, n),
        "PhoneService": rng.choice(yes_no, n),
        "TechSupport": rng.choice(yes_no, n),
        "StreamingMovies": rng.choice(yes_no, n),
        "StreamingTV": rng.choice(yes_no, n),
    }
)

# %%
customer_info_df["TotalCharges"] = pd.to_numeric(customer_info_df["TotalCharges"], errors="coerce")
customer_info_df["TotalCharges"] = customer_info_df["TotalCharges"].fillna(
    0
)  # port: pandas 3 has no inplace chained fillna
customer_info_df["Churn"] = customer_info_df["Churn"].replace({"No": 0, "Yes": 1}).astype(int)  # port: idem

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
customer_info_fg = fs.get_or_create_feature_group(
    name="customer_info",
    version=1,
    description="Customer info for churn prediction.",
    primary_key=["customerID"],
    event_time="datetime",
)

# %%
customer_info_fg.insert(customer_info_df)

# %%
feature_descriptions = [
    {"name": "customerid", "description": "Customer id"},
    {"name": "contract", "description": "Type of contact"},
    {"name": "tenure", "description": "How long they've been a customer"},
    {"name": "paymentmethod", "description": "Payment method"},
    {"name": "paperlessbilling", "description": "Whether customer has paperless billing or not"},
    {"name": "monthlycharges", "description": "Monthly charges"},
    {"name": "totalcharges", "description": "Total charges"},
    {"name": "churn", "description": "Whether customer has left within the last month or not"},
    {"name": "datetime", "description": "Date when the customer information was recorded"},
]

for desc in feature_descriptions:
    customer_info_fg.update_feature_description(desc["name"], desc["description"])

# %%
demography_fg = fs.get_or_create_feature_group(
    name="customer_demography_info",
    version=1,
    description="Customer demography info for churn prediction.",
    primary_key=["customerID"],
)
demography_fg.insert(demography_df)

# %%
feature_descriptions = [
    {"name": "customerid", "description": "Customer id"},
    {"name": "gender", "description": "Customer gender"},
    {"name": "seniorcitizen", "description": "Whether customer is a senior citizen or not"},
    {"name": "dependents", "description": "Whether customer has dependents or not"},
    {"name": "partner", "description": "Whether customer has partners or not"},
]

for desc in feature_descriptions:
    demography_fg.update_feature_description(desc["name"], desc["description"])

# %%
subscriptions_fg = fs.get_or_create_feature_group(
    name="customer_subscription_info",
    version=1,
    description="Customer subscription info for churn prediction.",
    primary_key=["customerID"],
    event_time="datetime",
)
subscriptions_fg.insert(subscriptions_df)

# %%
feature_descriptions = [
    {"name": "customerid", "description": "Customer id"},
    {
        "name": "deviceprotection",
        "description": "Whether customer has signed up for device protection service",
    },
    {"name": "internetservice", "description": "Whether customer has signed up for internet service"},
    {"name": "streamingtv", "description": "Whether customer has signed up for streaming TV service"},
    {"name": "datetime", "description": "Date when the customer information was recorded"},
]

for desc in feature_descriptions:
    subscriptions_fg.update_feature_description(desc["name"], desc["description"])

# %% [markdown]
# ## Training pipeline (2_churn_training_pipeline.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

# %%
customer_info_fg = fs.get_feature_group(
    name="customer_info",
    version=1,
)

demography_fg = fs.get_feature_group(
    name="customer_demography_info",
    version=1,
)

subscriptions_fg = fs.get_feature_group(
    name="customer_subscription_info",
    version=1,
)

# %%
selected_features = (
    customer_info_fg.select_features()
    .join(demography_fg.select_features())
    .join(subscriptions_fg.select_all(include_event_time=False))
)

# %%
from hopsworks.hsfs.builtin_transformations import label_encoder, min_max_scaler  # noqa: E402

numerical_features = ["tenure", "monthlycharges", "totalcharges"]
categorical_features = [
    "multiplelines", "internetservice", "onlinesecurity", "onlinebackup",
    "deviceprotection", "techsupport", "streamingmovies", "streamingtv",
    "phoneservice", "paperlessbilling", "contract", "paymentmethod", "gender",
    "dependents", "partner",
]  # fmt: skip

transformation_functions = []

for feature in numerical_features:
    transformation_functions.append(min_max_scaler(feature))

for feature in categorical_features:
    transformation_functions.append(label_encoder(feature))

# %%
feature_view = fs.get_or_create_feature_view(
    name="churn_feature_view",
    version=1,
    labels=["churn"],
    transformation_functions=transformation_functions,
    query=selected_features,
)

# %%
X_train, X_val, X_test, y_train, y_val, y_test = feature_view.train_validation_test_split(
    validation_size=0.2,
    test_size=0.1,
)

X_train.drop("customerid", axis=1, inplace=True)
X_val.drop("customerid", axis=1, inplace=True)
X_test.drop("customerid", axis=1, inplace=True)

# %%
y_train.value_counts(normalize=True)

# %%
model = HistGradientBoostingClassifier(random_state=0)  # port: was xgb.XGBClassifier(scale_pos_weight=3)
model.fit(X_train, y_train.values.ravel())

# %%
y_train_pred = model.predict(X_train)
y_test_pred = model.predict(X_test)

metrics = {
    "train_accuracy": accuracy_score(y_train, y_train_pred),
    "train_f1": f1_score(y_train, y_train_pred),
    "test_accuracy": accuracy_score(y_test, y_test_pred),
    "test_f1": f1_score(y_test, y_test_pred),
}

# %%
mr = project.get_model_registry()

model_dir = "churn_model"
images_dir = os.path.join(model_dir, "images")
os.makedirs(images_dir, exist_ok=True)
joblib.dump(model, os.path.join(model_dir, "model.pkl"))  # port: was model.save_model("model.json")

# %%
model = mr.python.create_model(
    name="churnmodel",
    description="Churn Model",
    input_example=X_train.sample(),
    feature_view=feature_view,
    metrics=metrics,
)

model.save(model_dir)

# %% [markdown]
# ## Batch inference (3_churn_batch_inference.ipynb)

# %%
project = hopsworks.login()

fs = project.get_feature_store()

mr = project.get_model_registry()

# %%
retrieved_model = mr.get_model(
    name="churnmodel",
    version=1,
)

saved_model_dir = retrieved_model.download()

# %%
model = joblib.load(saved_model_dir + "/model.pkl")  # port: was XGBClassifier().load_model(".../model.json")

# %%
feature_view = retrieved_model.get_feature_view()


# %%
def transform_preds(predictions):
    return ["Churn" if pred == 1 else "Not Churn" for pred in predictions]


# %%
feature_view.init_batch_scoring(retrieved_model.version)

batch_data = feature_view.get_batch_data()

batch_data.head(3)

# %%
batch_data.drop("customerid", axis=1, inplace=True)

predictions = model.predict(batch_data)

predictions = transform_preds(predictions)

predictions[:5]

# %%
customer_info_fg = fs.get_feature_group("customer_info", version=1)
customer_info_fg.statistics_config = {
    "enabled": True,
    "histograms": True,
    "correlations": True,
}

customer_info_fg.update_statistics_config()
statistics = customer_info_fg.compute_statistics()

summary = {
    "train_columns": sorted(X_train.columns),
    "split_rows": len(X_train) + len(X_val) + len(X_test),
    "test_accuracy": float(metrics["test_accuracy"]),
    "batch_rows": len(batch_data),
    "predictions": sorted(set(predictions)),
    "statistics_features": sorted(statistics),
    "tenure_max": statistics["tenure"]["max"] if "tenure" in statistics else None,
}
print(summary)
