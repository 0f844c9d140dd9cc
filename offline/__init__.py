"""Offline preview: the real program under mocks, with no credentials, engine or network."""
