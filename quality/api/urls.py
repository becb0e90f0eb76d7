from django.urls import path

from quality.api import views

urlpatterns = [
    path("predictions/<str:pk>/feedback", views.PredictionFeedbackView.as_view(), name="prediction-feedback"),
    path("models/<str:pk>/quality", views.ModelQualityView.as_view(), name="model-quality"),
    path("batch-jobs/<str:pk>/feedback", views.BatchJobFeedbackView.as_view(), name="batch-job-feedback"),
    path("feedback", views.FeedbackBatchView.as_view(), name="feedback-batch"),
]
