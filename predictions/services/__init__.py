"""Writes of the predictions app: the registry (`registry.py`) and metered predictions (`predictions.py`)."""

from predictions.services.predictions import ModelRef, PredictionOutcome, model_ref_from_input, prediction_create
from predictions.services.registry import model_register, model_set_stage

__all__ = [
    "ModelRef",
    "PredictionOutcome",
    "model_ref_from_input",
    "model_register",
    "model_set_stage",
    "prediction_create",
]
