"""List filters as query parameters: a plain serializer parses and validates them (and documents them in
OpenAPI); the list's selector does the filtering, the same selector GraphQL's filter arguments call.

(django-filter's FilterSets filter the queryset themselves: that would be a second copy of the selectors'
rules, so only this parsing half is done here.)"""

from rest_framework import serializers


def filters_from_query(request, serializer_class: type[serializers.Serializer]) -> dict:
    """The validated query parameters the serializer declares (absent ones left out); 400 on a bad value."""
    form = serializer_class(data=request.query_params)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)
