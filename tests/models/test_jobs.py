"""The server's job registry: limits with a first-come queue, cancelling a queued job,
and what a restarted server shows for jobs that were running."""

import threading
import time

from models.jobs import Job, JobRegistry, JobState


def _blocked(release: threading.Event, ran: list[str], name: str, owner: str = "a") -> Job:
    def work(progress, cancel) -> str:
        ran.append(name)
        while not release.wait(0.02):
            cancel.raise_if_cancelled()
        return name

    return Job(name=name, target=work, kind="training", domain="credit_risk", model=name, owner=owner)


def _wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.01)
    return condition()


def test_jobs_beyond_the_limit_queue_in_arrival_order(tmp_path) -> None:
    registry = JobRegistry(tmp_path, {"training": 2})
    release, ran = threading.Event(), []
    jobs = [registry.submit(_blocked(release, ran, f"job{i}")) for i in range(4)]
    assert _wait_until(lambda: len(ran) == 2)
    assert [j.state for j in jobs] == [JobState.RUNNING, JobState.RUNNING, JobState.QUEUED, JobState.QUEUED]
    assert [registry.position(j) for j in jobs] == [None, None, 1, 2]
    assert registry.running("training") == 2
    release.set()
    assert all(j.join(5) for j in jobs)
    assert ran == ["job0", "job1", "job2", "job3"] and all(j.state is JobState.DONE for j in jobs)


def test_a_queued_job_can_be_cancelled_and_never_runs(tmp_path) -> None:
    registry = JobRegistry(tmp_path, {"training": 1})
    release, ran = threading.Event(), []
    first, second, third = (registry.submit(_blocked(release, ran, n)) for n in ("first", "second", "third"))
    second.cancel()
    assert second.join(1) and second.state is JobState.CANCELLED
    assert registry.position(third) == 1  # moved up
    release.set()
    assert first.join(5) and third.join(5)
    assert ran == ["first", "third"]


def test_a_restarted_server_shows_running_jobs_as_interrupted(tmp_path) -> None:
    registry = JobRegistry(tmp_path, {"training": 1})
    release, ran = threading.Event(), []
    running = registry.submit(_blocked(release, ran, "long", owner="v1"))
    waiting = registry.submit(_blocked(release, ran, "later", owner="v1"))
    assert _wait_until(lambda: ran == ["long"])
    again = JobRegistry(tmp_path, {"training": 1})  # the server restarted: the old threads are gone
    states = {r.model: r.state for r in again.records()}
    assert states == {"long": "interrupted", "later": "interrupted"}
    assert all("interrupted" in r.status for r in again.records())
    release.set()
    running.join(5)
    waiting.join(5)


def test_records_list_active_jobs_first_then_recent_results(tmp_path) -> None:
    registry = JobRegistry(tmp_path, {"training": 1})
    release, ran = threading.Event(), []
    done = Job(name="quick", target=lambda progress, cancel: "ok", kind="training", domain="text_classification",
               model="quick", describe=lambda value: f"saved {value}")
    registry.submit(done).join(5)
    waiting = registry.submit(_blocked(release, ran, "slow"))
    records = registry.records()
    assert [r.model for r in records] == ["slow", "quick"]
    assert records[1].result == "saved ok" and records[1].state == "done"
    assert [r.model for r in registry.records("text_classification")] == ["quick"]
    release.set()
    waiting.join(5)


def test_finished_jobs_let_go_of_their_results_but_stay_listed(tmp_path) -> None:
    registry = JobRegistry(tmp_path, {"training": 1}, keep_s=0.2)
    release, ran = threading.Event(), []
    release.set()
    first = registry.submit(_blocked(release, ran, "first"))
    assert first.join(5) and registry.get(first.id) is first  # its page can still find it
    time.sleep(0.3)
    second = registry.submit(_blocked(release, ran, "second"))
    assert second.join(5)
    assert registry.get(first.id) is None  # the result (a model, a scored file) is no longer held
    assert [r.id for r in registry.records()] == [second.id, first.id]
