"""The domain: subscribers, the conversation, know-your-rights content. No provider, HTTP or scheduler here."""
