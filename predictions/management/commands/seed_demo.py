from django.core.management.base import BaseCommand

from predictions.demo import demo_seed


class Command(BaseCommand):
    help = "Train and register the demo models (iris, bank-marketing), the tiers, and a demo API client."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--portal-password",
            default="",
            help="Also give the demo user a portal login (demo@example.com or 'demo') with this password. "
            "For a local demo only: never on a server others can reach.",
        )

    def handle(self, *args, base_url, portal_password, **options):
        result = demo_seed()
        for line in result.registered:
            self.stdout.write(f"registered {line}")
        if not result.registered:
            self.stdout.write("demo models already registered")
        c = result.credentials
        self.stdout.write("\nDemo API client (user 'demo', tier 'pro'):")
        self.stdout.write(f"  client_id={c.client_id}\n  client_secret={c.client_secret}\n")
        if portal_password:
            from accounts.services import customer_login_set

            customer_login_set(user=c.application.user, password=portal_password)
            self.stdout.write(
                f"Customer portal: {base_url}/accounts/login/ as demo (or demo@example.com), "
                f"password {portal_password!r}\n"
            )
        self.stdout.write("Try it:\n")
        self.stdout.write(
            f"  TOKEN=$(curl -s -u '{c.client_id}:{c.client_secret}' -d grant_type=client_credentials "
            f"-d 'scope=read predict billing' {base_url}/o/token/ | "
            "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
            f"  curl -s {base_url}/graphql/ -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
            '-d \'{"query": "mutation { createPrediction(input: {modelName: \\"iris\\", features: '
            "{sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2}}) "
            "{ prediction { output } cost { amount currency } errors { field code message } } }\"}'\n"
        )
