from django.db import migrations


def create_standard_tiers(apps, schema_editor):
    from billing.tiers import STANDARD_TIERS

    PricingTier = apps.get_model("billing", "PricingTier")
    known = {f.name for f in PricingTier._meta.get_fields()}  # later migrations add fields (and fill them in)
    for name, values in STANDARD_TIERS.items():
        PricingTier.objects.get_or_create(name=name, defaults={k: v for k, v in values.items() if k in known})


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunPython(create_standard_tiers, migrations.RunPython.noop)]
