"""Container HEALTHCHECK: exit 0 when the proxy's /health says healthy (the slim image has no curl)."""

import os
import sys
import urllib.request

port = os.environ.get("PORT", "5000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=8) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as e:  # any failure means unhealthy; say why in `docker inspect`
    print(f"unhealthy: {e}", file=sys.stderr)
    sys.exit(1)
