"""SMS through Twilio: the inbound webhook answered with TwiML (delivery's Sender arrives with the outbox)."""

NEVER_LOG = ("From", "To", "Body", "FromCity", "FromState", "FromZip", "FromCountry", "MediaUrl0")
"""Fields of Twilio's webhook forms that identify or quote a person: never logged."""
