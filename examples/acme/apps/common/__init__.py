"""Code every Acme app shares (outbound HTTP, email)."""
