from django.urls import path

from predictions.api import views

urlpatterns = [
    path("models", views.ModelListView.as_view(), name="model-list"),
    path("models/<str:pk>", views.ModelDetailView.as_view(), name="model-detail"),
    path("models/<slug:name>/predict", views.PredictView.as_view(), name="model-predict"),
    path("predictions", views.PredictionListView.as_view(), name="prediction-list"),
    path("predictions/<str:pk>", views.PredictionDetailView.as_view(), name="prediction-detail"),
]
