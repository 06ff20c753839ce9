"""A predictor as a Hopsworks user writes one: load the model, init serving, then
each request reads feature vectors for its card numbers and scores them."""

import os

import joblib

import granary


class Predict:
    def __init__(self):
        project = granary.login()
        model = project.get_model_registry().get_model("fraud_model", 1)
        self.view = model.get_feature_view()
        self.model = joblib.load(os.path.join(os.environ["MODEL_FILES_PATH"], "model.pkl"))

    def predict(self, inputs):
        if inputs == ["crash"]:  # lets a test kill the process from the outside
            os._exit(3)
        vectors = self.view.get_feature_vectors([{"cc": cc} for cc in inputs], return_type="pandas")
        return {
            "scores": self.model.predict_proba(vectors)[:, 1].tolist(),
            "vectors": vectors.values.tolist(),
        }
