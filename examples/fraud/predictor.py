"""The fraud model's predictor, deployed by the online inference pipeline.

As in Hopsworks: ``__init__`` loads the model from its files and prepares the feature
view for serving with the model's training dataset version; ``predict`` scores
payments, each a card number plus the request's amount and hour of day.
"""

import os
import pickle
from pathlib import Path

import granary


class Predict:
    def __init__(self):
        name, version = os.environ["GRANARY_MODEL"].split(":")
        model = granary.login().get_model_registry().get_model(name, int(version))
        self.fv = model.get_feature_view()
        saved = pickle.loads((Path(os.environ["MODEL_FILES_PATH"]) / "fraud_model.pkl").read_bytes())
        self.model = saved["model"]

    def predict(self, inputs):
        scores = []
        for payment in inputs:
            request = {"amount": payment["amount"], "hour_of_day": payment["hour_of_day"]}
            vector = self.fv.get_feature_vector(
                {"cc_num": payment["cc_num"]}, request_parameters=request, return_type="pandas"
            )
            scores.append(float(self.model.predict_proba(vector[self.model.feature_names_in_])[0, 1]))
        return scores
