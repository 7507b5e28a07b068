"""Shared by the SQLite binding tests: a clock the tests move by hand."""

import asyncio

import pytest


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def run(awaitable):
    return asyncio.run(awaitable)
