import pytest

from host.jobs import Worker


@pytest.fixture
def worker(host):
    return Worker(host, name="w1")


@pytest.fixture
def handled(host):
    """Install a test job kind whose handler does what the test queues."""
    calls = []

    def handler(host, payload):
        calls.append(payload)
        action = payload.get("action")
        if action == "fail":
            raise ValueError("nope")
        if action == "retry-later":
            from host.errors import RetryLater

            raise RetryLater("rate limited", delay=120)

    host.jobs.handlers["test"] = handler
    return calls


def test_a_job_runs_once_and_is_done(host, worker, handled):
    job_id = host.jobs.enqueue("test", {"n": 1})
    assert worker.run_once()["id"] == job_id
    assert worker.run_once() is None
    assert handled == [{"n": 1}]
    assert host.store.jobs.get(job_id)["state"] == "done"


def test_unknown_kinds_are_refused_at_enqueue(host):
    with pytest.raises(ValueError, match="Unknown job kind"):
        host.jobs.enqueue("nope", {})


def test_a_delayed_job_waits_for_its_time(host, worker, handled, clock):
    host.jobs.enqueue("test", {}, delay=30)
    assert worker.run_once() is None
    clock.advance(31)
    assert worker.run_once() is not None


def test_failures_back_off_then_dead_letter_with_the_last_error(
    host, worker, handled, clock
):
    job_id = host.jobs.enqueue("test", {"action": "fail"})
    delays = []
    for _ in range(host.config.jobs.max_attempts):
        before = clock()
        assert worker.run_once() is not None
        job = host.store.jobs.get(job_id)
        if job["state"] == "queued":
            delays.append(job["run_at"] - before)
            clock.advance(job["run_at"] - before)
    job = host.store.jobs.get(job_id)
    assert job["state"] == "dead"
    assert job["last_error"] == "ValueError: nope"
    assert job["attempts"] == host.config.jobs.max_attempts
    # exponential (with jitter in [0.5, 1]): each delay bounded by base * 2**n
    base = host.config.jobs.backoff_base_seconds
    for n, delay in enumerate(delays):
        assert base * 2**n * 0.5 <= delay <= base * 2**n
    assert worker.run_once() is None  # dead jobs are not claimed


def test_a_job_can_ask_for_its_retry_delay(host, worker, handled, clock):
    job_id = host.jobs.enqueue("test", {"action": "retry-later"})
    worker.run_once()
    job = host.store.jobs.get(job_id)
    assert (job["state"], job["last_error"]) == ("queued", "rate limited")
    assert job["run_at"] == clock() + 120


def test_a_dead_job_can_be_retried(host, worker, handled, clock):
    job_id = host.jobs.enqueue("test", {"action": "fail"})
    for _ in range(host.config.jobs.max_attempts):
        worker.run_once()
        clock.advance(host.config.jobs.backoff_max_seconds)
    assert host.store.jobs.get(job_id)["state"] == "dead"
    assert host.jobs.retry(job_id) is True
    assert host.jobs.retry(job_id) is False  # no longer dead
    job = host.store.jobs.get(job_id)
    assert (job["state"], job["attempts"]) == ("queued", 0)


def test_an_expired_lease_is_claimed_again(host, handled, clock):
    job_id = host.jobs.enqueue("test", {})
    crashed = host.store.jobs.claim("dead-worker", now=clock(), lease_seconds=60)
    assert crashed["id"] == job_id
    other = Worker(host, name="w2")
    assert other.run_once() is None  # lease still held
    clock.advance(61)
    assert other.run_once()["id"] == job_id
    job = host.store.jobs.get(job_id)
    assert (job["state"], job["attempts"], job["worker"]) == ("done", 2, "w2")
    # the crashed worker waking up late cannot finish someone else's job
    assert host.store.jobs.finish(job_id, "dead-worker", 1) is False


def test_stopping_finishes_the_job_in_hand_and_claims_no_other(host, worker):
    """What SIGTERM does to `trackbridge worker`: nothing is left half-applied."""
    import threading

    started, release = threading.Event(), threading.Event()

    def slow(host, payload):
        started.set()
        release.wait(5)
        with host.store.transaction():
            host.organizations.create(payload["slug"], "Made by a job")

    host.jobs.handlers["slow"] = slow
    first = host.jobs.enqueue("slow", {"slug": "first"})
    second = host.jobs.enqueue("slow", {"slug": "second"})
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(5)
    worker.stop()  # the worker CLI's SIGTERM handler
    release.set()
    thread.join(5)
    assert not thread.is_alive()
    states = {job["id"]: job["state"] for job in host.store.jobs.list()}
    assert states == {first: "done", second: "queued"}
    assert [o.slug for o in host.store.organizations.list()] == ["first"]
