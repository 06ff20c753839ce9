"""The smallest predictor: its model file holds a number added to every input."""

import os


class Predict:
    def __init__(self):
        with open(os.path.join(os.environ["MODEL_FILES_PATH"], "offset.txt")) as file:
            self.offset = float(file.read())

    def predict(self, inputs):
        return [x + self.offset for x in inputs]
