"""The ceiling: a bare Falcon app whose one resource reads the body and says 200.

Served by the same gunicorn, worker count and worker class as trackbridge in
``bench/ingest.py``, so the ratio between the two is what trackbridge's own
work (token check, durable store, job enqueue) costs.
"""

import falcon


class Accept:
    def on_post(self, req, resp, path):
        req.bounded_stream.read()
        resp.media = {"ok": True}


def create_app() -> falcon.App:
    app = falcon.App()
    app.add_route("/extensions/{path:path}", Accept())
    return app


def create_bridged_app():
    """The same app behind trackbridge's worker model (``host.web``)."""
    from host.config import Config
    from host.web import WsgiBridge

    return WsgiBridge(create_app(), Config())
