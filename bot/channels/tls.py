"""One TLS client context per process, for every httpx client the channels and fakes make.

httpx builds a context for each client it creates and loads the whole CA bundle into it
(about 30 ms of CPU each time); python-telegram-bot creates two clients per Application.
One context, made as httpx makes its default (certifi's bundle, or SSL_CERT_FILE /
SSL_CERT_DIR when set), verifies the same and is safe to share between clients.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
