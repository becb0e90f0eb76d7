from django.urls import path

from predictions.api import registry, views

urlpatterns = [
    path("models", registry.ModelListRegisterView.as_view(), name="model-list"),
    path("models/<str:pk>", views.ModelDetailView.as_view(), name="model-detail"),
    path("models/<str:pk>/stage", registry.ModelStageView.as_view(), name="model-stage"),
    path("models/<slug:name>/predict", views.PredictView.as_view(), name="model-predict"),
    path("predictions", views.PredictionListView.as_view(), name="prediction-list"),
    path("predictions/<str:pk>", views.PredictionDetailView.as_view(), name="prediction-detail"),
]
