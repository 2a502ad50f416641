"""The hotline by phone: Twilio Voice webhooks answered with TwiML."""
