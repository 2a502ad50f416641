"""Local fake provider servers: Telegram Bot API and Twilio, spoken over real HTTP."""
