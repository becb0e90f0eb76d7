"""The baseline: the iris classifier served the way FastAPI tutorials do it.

Model loaded once at start-up with joblib from MODEL_PATH, a pydantic body with the four features,
POST /predict answers the label and the class probabilities. No auth, no storage, no metering.

    MODEL_PATH=model.joblib uvicorn bench.fastapi_server:app --workers 2
"""

import os
from contextlib import asynccontextmanager

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = None


@asynccontextmanager
async def lifespan(app: FastAPI):
    global model
    model = joblib.load(os.environ["MODEL_PATH"])
    yield


app = FastAPI(title="iris (tutorial baseline)", lifespan=lifespan)


class IrisFeatures(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class PredictionOut(BaseModel):
    label: str
    probabilities: dict[str, float]


@app.get("/health")
def health():
    return {"status": "ok", "model_loaded": model is not None}


@app.post("/predict", response_model=PredictionOut)
def predict(features: IrisFeatures):
    row = np.array([[features.sepal_length, features.sepal_width, features.petal_length, features.petal_width]])
    label = model.predict(row)[0]
    probabilities = model.predict_proba(row)[0]
    return {
        "label": str(label),
        "probabilities": dict(zip(map(str, model.classes_), probabilities.tolist(), strict=True)),
    }
