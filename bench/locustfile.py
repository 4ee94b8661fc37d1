"""The load test's users: Locust users who browse pages, list through the API, upload small files and ask the
chat, against one tenant of a running portal. ``bench/load_test.py`` prepares the tenant, starts daphne and
runs this file as a separate process (Locust monkey-patches the standard library with gevent on import, so it
never shares a process with Django).

    python bench/locustfile.py CONFIG.json RESULT.json --users 20 --seconds 300

CONFIG.json (written by load_test.py): ``{"url": "http://127.0.0.1:<port>", "host": "<tenant host>:<port>",
"credentials": [{"cookie": "sessionid=…", "token": "ry_…"}, …]}``; each Locust user takes the next
credential in turn, so N users are N different portal users. Pages are read with the user's session cookie
(a browser), API calls carry the user's bearer token (an integration). Every answer must have the expected
status (200, or 201 for an upload and an ask; a redirect, e.g. to the sign-in page, is an error too) and the
chat's answer must hold a figure. RESULT.json gets, per request type, every response time (ms) and every
error, and the seconds measured: the clock starts once all users are running.

``locust -f bench/locustfile.py --headless …`` works too with RUNYARD_LOAD_CONFIG=CONFIG.json in the
environment (Locust's own statistics then; no RESULT.json).
"""

import argparse
import itertools
import json
import os
import secrets
import time

from locust import FastHttpUser, between, events, task

QUESTIONS = (
    "What are the three hottest functions in my latest run, with instruction counts and cycle share?",
    "What did the GPU jobs cost by team last week?",
)
UPLOAD_BYTES = 2048


def load_config(path: str) -> dict:
    with open(path) as source:
        return json.load(source)


CONFIG = load_config(os.environ["RUNYARD_LOAD_CONFIG"]) if os.environ.get("RUNYARD_LOAD_CONFIG") else {}
_next_credential = itertools.count()


class PortalUser(FastHttpUser):
    """One person: pages in the browser, the API from a script, now and then an upload or a question."""

    wait_time = between(0.5, 1.5)
    config: dict = CONFIG
    host = CONFIG.get("url")

    def on_start(self) -> None:
        credentials = self.config["credentials"]
        mine = credentials[next(_next_credential) % len(credentials)]
        self.host_header = self.config["host"]
        self.browser = {"Host": self.host_header, "Cookie": mine["cookie"], "Accept": "text/html"}
        self.api = {"Host": self.host_header, "Authorization": f"Bearer {mine['token']}"}

    def expect(self, method: str, path: str, name: str, status: int = 200, check=None, **kwargs) -> None:
        """One request; anything but ``status`` (and a body ``check`` accepts) counts as an error."""
        with self.client.request(
            method, path, name=name, catch_response=True, allow_redirects=False, **kwargs
        ) as response:
            if response.status_code != status:
                body = (response.text or "")[:200] if response.status_code else str(response.error)
                response.failure(f"{response.status_code} (expected {status}): {body}")
            elif check is not None and (problem := check(response)):
                response.failure(problem)
            else:
                response.success()

    def page(self, path: str, name: str) -> None:
        self.expect("GET", path, f"page {name}", headers=self.browser)

    def listing(self, path: str, name: str) -> None:
        self.expect("GET", path, f"api {name}", headers=self.api, check=is_json)

    # --- page views (weight 10) ---

    @task(3)
    def dashboard(self) -> None:
        self.page("/", "dashboard")

    @task(2)
    def worksets_page(self) -> None:
        self.page("/worksets/", "worksets")

    @task(2)
    def files_page(self) -> None:
        self.page("/files/", "files")

    @task(2)
    def costs_page(self) -> None:
        self.page("/costs/", "costs")

    @task(1)
    def profiles_page(self) -> None:
        self.page("/profiles/", "profiles")

    # --- API list calls (weight 8) ---

    @task(3)
    def worksets_api(self) -> None:
        self.listing("/api/v1/worksets", "worksets")

    @task(2)
    def profiles_api(self) -> None:
        self.listing("/api/v1/profiles", "profiles")

    @task(2)
    def files_api(self) -> None:
        self.listing("/api/v1/files?prefix=inputs/", "files")

    @task(1)
    def conversations_api(self) -> None:
        self.listing("/api/v1/chat/conversations", "conversations")

    # --- writes (weight 2) ---

    @task(1)
    def upload(self) -> None:
        boundary = secrets.token_hex(12)
        name = f"load-{secrets.token_hex(6)}.txt"
        body = multipart(
            boundary, {"prefix": "uploads/"}, ("file", name, os.urandom(UPLOAD_BYTES // 2).hex())
        )
        headers = {**self.api, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        self.expect("POST", "/api/v1/files/upload", "api upload", 201, data=body, headers=headers)

    @task(1)
    def chat(self) -> None:
        question = QUESTIONS[secrets.randbelow(len(QUESTIONS))]
        self.expect(
            "POST",
            "/api/v1/chat/conversations/ask",
            "api chat ask",
            201,
            check=has_figure,
            json={"text": question},
            headers=self.api,
        )


def is_json(response) -> str | None:
    try:
        response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    return None


def has_figure(response) -> str | None:
    try:
        content = response.json()["reply"]["content"]
    except (ValueError, KeyError, TypeError):
        return f"no reply in {response.text[:200]!r}"
    if not any(c.isdigit() for c in content) or "could not look up" in content:
        return f"an answer with no figure: {content[:200]!r}"
    return None


def multipart(boundary: str, fields: dict[str, str], file: tuple[str, str, str]) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        for key, value in fields.items()
    ]
    field, filename, content = file
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: text/plain\r\n\r\n{content}\r\n--{boundary}--\r\n"
    )
    return "".join(parts).encode()


# --- running headless as a library (what load_test.py does) -------------------------------------------


class Recorder:
    """Every response time and error by request type, from the moment all users are running."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}
        self.started: float | None = None

    def on_request(self, name, response_time, exception, **_) -> None:
        if self.started is None:
            return
        if exception is not None:
            self.errors.setdefault(name, []).append(str(exception)[:300])
        self.times.setdefault(name, []).append(response_time)


def run(config: dict, users: int, seconds: float, spawn_rate: float) -> dict:
    import gevent
    from locust.env import Environment

    PortalUser.config, PortalUser.host = config, config["url"]
    recorder = Recorder()
    environment = Environment(user_classes=[PortalUser], events=events)
    environment.events.request.add_listener(recorder.on_request)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=spawn_rate)
    deadline = time.monotonic() + 60
    while runner.user_count < users:
        if time.monotonic() > deadline or runner.exceptions:
            raise SystemExit(
                f"{runner.user_count} of {users} users started: {list(runner.exceptions.values())}"
            )
        gevent.sleep(0.1)
    recorder.started = time.monotonic()
    gevent.sleep(seconds)
    measured = time.monotonic() - recorder.started
    recorder.started = None  # requests still in flight when the clock stops are not counted
    runner.quit()
    exceptions = [f"{e['msg']} ({e['count']}x)" for e in runner.exceptions.values()]
    return {
        "users": users,
        "seconds": measured,
        "times": recorder.times,
        "errors": recorder.errors,
        "user_exceptions": exceptions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("result")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--spawn-rate", type=float, default=10)
    args = parser.parse_args()
    result = run(load_config(args.config), args.users, args.seconds, args.spawn_rate)
    with open(args.result, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
