"""Generation verification runs a candidate's solution and starter as ONE test batch."""

from __future__ import annotations

from tests.generation.conftest import status, submit


class Recording:
    """The app's own executor, with its calls written down (injected via `deps`)."""

    def __init__(self, real):
        self.real, self.calls = real, []

    async def run_tests(self, *args, **kwargs):
        self.calls.append(("run_tests", None))
        return await self.real.run_tests(*args, **kwargs)

    async def run_tests_batch(self, runs, language, *, limits):
        self.calls.append(("run_tests_batch", len(runs)))
        return await self.real.run_tests_batch(runs, language, limits=limits)


def test_solution_and_starter_are_verified_in_one_batch(client, creator, queue):
    recording = Recording(client.app.deps.executor)
    client.inject(executor=recording)
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "completed", job
    assert recording.calls and set(recording.calls) == {("run_tests_batch", 2)}
