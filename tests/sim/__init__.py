"""Tests of the fake provider servers."""
