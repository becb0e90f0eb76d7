from django.urls import path

from batch.api import views

urlpatterns = [
    path("batch-uploads", views.BatchUploadCreateView.as_view(), name="batch-upload-create"),
    path("batch-uploads/<str:pk>", views.BatchUploadDetailView.as_view(), name="batch-upload-detail"),
    path("batch-jobs", views.BatchJobListCreateView.as_view(), name="batch-job-list"),
    path("batch-jobs/<str:pk>", views.BatchJobDetailView.as_view(), name="batch-job-detail"),
    path("batch-jobs/<str:pk>/cancel", views.BatchJobCancelView.as_view(), name="batch-job-cancel"),
    path("batch-jobs/<str:pk>/resume", views.BatchJobResumeView.as_view(), name="batch-job-resume"),
    path("batch-jobs/<str:pk>/results", views.BatchJobResultsView.as_view(), name="batch-job-results"),
]
