"""Development and test endpoints: local fake addresses, overridable by environment.

``make dev`` starts the fakes on free ports and passes their real URLs to its children through
these variables; tests mount the fakes at these addresses through ``responses``.
"""

import os

STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_praho_local")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_praho_local")
REGISTRAR_API_BASE = os.environ.get("REGISTRAR_API_BASE", "http://127.0.0.1:12112/v5")
REGISTRAR_API_TOKEN = os.environ.get("REGISTRAR_API_TOKEN", "praho-local-registrar-token")
