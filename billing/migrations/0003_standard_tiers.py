from django.db import migrations


def create_standard_tiers(apps, schema_editor):
    from billing.tiers import STANDARD_TIERS

    PricingTier = apps.get_model("billing", "PricingTier")
    for name, values in STANDARD_TIERS.items():
        PricingTier.objects.get_or_create(name=name, defaults=values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunPython(create_standard_tiers, migrations.RunPython.noop)]
