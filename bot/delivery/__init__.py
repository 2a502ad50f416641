"""The outbox: claims queued deliveries, paces them per provider, retries, records outcomes."""
