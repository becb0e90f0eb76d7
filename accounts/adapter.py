"""django-allauth's hooks: a new customer's tier is recorded through the accounts service."""

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from accounts.services import customer_signup_complete


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                customer_signup_complete(user=user)
        return user
