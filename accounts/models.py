from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person or an API client. Their tier history lives in billing (`billing.Subscription`)."""
