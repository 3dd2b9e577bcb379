import threading

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


def test_stopping_finishes_the_job_in_hand_and_claims_no_other(host):
    """What SIGTERM does to `trackbridge worker`: nothing is left half-applied."""
    import threading

    worker = Worker(host, name="w1", concurrency=1)

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


def _slow_jobs(host, count, integration_id=0):
    """``count`` jobs whose handler waits for ``release``; (ids, running, release)."""
    import threading

    running, release = threading.Semaphore(0), threading.Event()

    def slow(host, payload):
        running.release()
        release.wait(10)

    host.jobs.handlers["slow"] = slow
    with host.store.transaction():
        ids = [
            host.jobs.enqueue("slow", {}, integration_id=integration_id)
            for _ in range(count)
        ]
    return ids, running, release


def test_a_worker_runs_its_concurrency_at_once_and_a_stop_finishes_them_all(host):
    import threading

    ids, running, release = _slow_jobs(host, 5)
    worker = Worker(host, name="w", concurrency=3)
    thread = threading.Thread(target=worker.run)
    thread.start()
    for _ in range(3):
        assert running.acquire(timeout=5)  # three at once
    assert not running.acquire(timeout=0.3)  # not a fourth
    worker.stop()
    release.set()
    thread.join(10)
    assert not thread.is_alive()
    states = sorted(host.store.jobs.get(i)["state"] for i in ids)
    assert states == ["done"] * 3 + ["queued"] * 2


def test_claims_take_integrations_in_turn_and_cap_each(host, clock):
    """A backlog of one integration never delays another's first job by
    more than one claim; at its cap an integration is skipped."""
    store = host.store
    with store.transaction():
        for _ in range(50):
            host.jobs.enqueue("sync.outbound", {}, integration_id=7)
        for integration in (3, 9):
            host.jobs.enqueue("sync.outbound", {}, integration_id=integration)
        host.jobs.enqueue("sync.outbound", {})  # for no integration
    worker = Worker(host, name="w")
    served = [worker._claim()["lane"] for _ in range(5)]
    assert served == [0, 3, 7, 9, 7]
    # 7 runs two now (per_integration_concurrency): the others come first,
    # then nothing, until one of 7's finishes.
    assert worker._claim() is None
    job = next(j for j in store.jobs.list(("running",)) if j["lane"] == 7)
    store.jobs.finish(job["id"], "w", job["attempts"])
    assert worker._claim()["lane"] == 7


def test_inbound_applies_never_wait_behind_their_trackers_calls(host, clock):
    """Integration 7's tracker hangs two jobs (its cap): what it sent is
    still applied, in a lane of its own."""
    with host.store.transaction():
        for _ in range(3):
            host.jobs.enqueue("sync.outbound", {}, integration_id=7)
        host.jobs.enqueue("delivery.process", {"delivery_id": 1}, integration_id=7,
                          inbound=True)  # fmt: skip
    worker = Worker(host, name="w")
    claimed = [worker._claim() for _ in range(4)]
    assert [job and job["lane"] for job in claimed] == [-7, 7, 7, None]


def test_an_organization_is_capped_across_its_integrations(host, clock):
    with host.store.transaction():
        for integration in (1, 2, 1, 2):
            host.jobs.enqueue(
                "sync.outbound", {"organization_id": 5}, integration_id=integration
            )
        host.jobs.enqueue("sync.outbound", {"organization_id": 6}, integration_id=3)
    worker = Worker(host, name="w")
    claimed = [worker._claim() for _ in range(4)]
    organizations = [job and job["organization_id"] for job in claimed]
    assert organizations == [5, 5, 6, None]


@pytest.mark.sqlite_only
def test_claims_seek_indexes_and_never_sort_the_backlog(host, clock):
    """The queries a claim runs, as SQLite plans them: index searches only."""
    with host.store.transaction():
        for n in range(200):
            host.jobs.enqueue(
                "sync.outbound", {"organization_id": n % 3}, integration_id=n % 5
            )
    worker = Worker(host, name="w")
    worker._claim()  # one running: the next claim also counts what runs
    statements: list[str] = []
    conn = host.store.db.conn
    conn.set_trace_callback(statements.append)
    try:
        assert worker._claim() is not None
    finally:
        conn.set_trace_callback(None)
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert any("FROM jobs" in sql and "queued" in sql for sql in selects), selects
    for sql in selects:
        plan = " | ".join(
            row[-1] for row in host.store.db.execute(f"EXPLAIN QUERY PLAN {sql}")
        )
        assert "TEMP B-TREE FOR ORDER BY" not in plan, (sql, plan)
        assert "SCAN jobs" not in plan, (sql, plan)


def test_a_job_that_outlives_its_lease_is_not_run_twice(tmp_path):
    """Leases are renewed while the job runs (real time: a 0.3 s lease and a
    1.2 s job), so a second worker never claims it meanwhile."""
    import threading
    import time

    from host.config import load_config
    from host.core import Host
    from tests.conftest import write_config

    config = load_config(
        write_config(
            tmp_path,
            "[jobs]\nlease_seconds = 1\ntracker_timeout_seconds = 0.5\n"
            "poll_interval_seconds = 0.05\n",
        ),
        env={},
    )
    host = Host.from_config(config)
    runs = []

    def long(host, payload):
        runs.append(threading.current_thread().name)
        time.sleep(2.5)

    host.jobs.handlers["long"] = long
    with host.store.transaction():
        job_id = host.jobs.enqueue("long", {}, integration_id=1)
    first, second = Worker(host, name="first"), Worker(host, name="second")
    threads = [threading.Thread(target=w.run) for w in (first, second)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while host.store.jobs.get(job_id)["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for worker in (first, second):
            worker.stop()
        for thread in threads:
            thread.join(10)
        host.close()
    assert len(runs) == 1


def test_a_run_whose_lease_was_taken_over_records_nothing_and_says_so(
    host, clock, caplog
):
    host.jobs.handlers["t"] = lambda host, payload: clock.advance(120)
    with host.store.transaction():
        job_id = host.jobs.enqueue("t", {})
    stalled = Worker(host, name="stalled")
    job = stalled._claim()
    clock.advance(61)  # the lease runs out while this process is stalled
    taker = host.store.jobs.claim("taker", now=clock(), lease_seconds=60)
    assert taker["id"] == job_id
    stalled._run(job)
    assert host.store.jobs.get(job_id)["worker"] == "taker"  # not marked done
    assert "lost its lease while it ran" in caplog.text


def test_a_run_whose_lease_was_taken_over_cannot_commit_its_writes(
    host, org, clock, caplog
):
    """The handler's own transaction is fenced: once another worker holds
    the lease, what this run writes is rolled back."""

    def write_a_group(host, payload):
        clock.advance(61)  # stalled past the lease, and taken over meanwhile
        taken = []
        taker = threading.Thread(
            target=lambda: taken.append(
                host.store.jobs.claim("taker", now=clock(), lease_seconds=60)
            )
        )
        taker.start()
        taker.join()
        assert taken[0] is not None
        host.groups.create(org, "written by the stalled run", "app.py")

    host.jobs.handlers["t"] = write_a_group
    with host.store.transaction():
        job_id = host.jobs.enqueue("t", {})
    Worker(host, name="stalled").run_once()
    assert host.groups.list(org) == []
    assert host.store.jobs.get(job_id)["worker"] == "taker"
    assert "lost its lease while it ran" in caplog.text


def test_a_queued_job_wakes_an_idle_worker_at_once(tmp_path):
    """Without the nudge an idle worker would look again only at its next
    poll (5 s here)."""
    import threading
    import time

    from host.config import load_config
    from host.core import Host
    from tests.conftest import write_config

    config = load_config(
        write_config(tmp_path, "[jobs]\npoll_interval_seconds = 5\n"), env={}
    )
    host = Host.from_config(config)
    ran = threading.Event()
    host.jobs.handlers["t"] = lambda host, payload: ran.set()
    worker = Worker(host, name="w")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        time.sleep(0.5)  # idle, waiting
        queued = time.monotonic()
        with host.store.transaction():
            host.jobs.enqueue("t", {})
        assert ran.wait(2)
        assert time.monotonic() - queued < 1.0
    finally:
        worker.stop()
        thread.join(10)
        host.close()
    assert not thread.is_alive()


def test_a_rolled_back_job_wakes_no_one(host, monkeypatch):
    from host import wakeup

    nudged = []
    monkeypatch.setattr(wakeup, "notify", lambda database: nudged.append(database))
    with pytest.raises(RuntimeError), host.store.transaction():
        host.jobs.enqueue("sync.outbound", {})
        raise RuntimeError("rolled back")
    assert nudged == []
    with host.store.transaction():
        host.jobs.enqueue("sync.outbound", {})
        host.jobs.enqueue("sync.outbound", {})
    assert nudged == [host.store.db.wake_key]  # once per transaction
