"""Rapid Response Bot: verified alerts, know-your-rights answers and sign-ups by Telegram and SMS."""

__version__ = "0.1.0"
