#!/usr/bin/env python3
"""The compose stack's services as release binaries on this machine (issue 18).

    cargo build --release --bins -p temponest -p temponest-auth -p temponest-agents \
        -p temponest-scheduler -p temponest-webhooks -p temponest-knowledge
    python3 load_tests/stack-footprint.py [--runs 3]

Reads docker-compose.yml and starts each TempoNest service's binary (target/release/<BIN>)
with exactly the environment compose gives its container (the image's own ENV included:
LOG_FORMAT=json, TEMPONEST_STRICT_CONFIG=true), except that what names another container
points at this machine: Postgres and Redis at 127.0.0.1 (a database of its own), the services'
hosts at 127.0.0.1 with every port moved by --port-offset (default 10000), the edge's URL at
the agents service. The `${VAR:?…}` secrets get freshly generated values of the documented
form; `${VAR:-default}` takes its default. `migrate` runs first; then the services start in
compose's dependency order, each waited for until `/health/ready` answers 200 — which is the
equivalence check: the container's environment is enough for the binary to become ready
(strict configuration on, so an unknown variable would refuse the start).

Prints, per service: the binary's size (as built, and stripped as the image ships it), the
time from exec to ready (median of --runs starts, each after a stop), and the RSS after 5 s
idle with every service running.
"""

import argparse
import base64
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["auth", "agents", "knowledge", "webhooks", "scheduler"]
IMAGE_ENV = {"LOG_FORMAT": "json", "TEMPONEST_STRICT_CONFIG": "true"}


def secret_for(name):
    if "SECRET_KEY" in name or "COOKIE_KEY" in name or "MASTER_KEY" in name:
        return base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)


def resolve(value, variables):
    def one(match):
        name, op, rest = match.group(1), match.group(2), match.group(3) or ""
        if op == ":?":
            return variables.setdefault(name, secret_for(name))
        if op == ":-":
            return os.environ.get(name) or rest
        return os.environ.get(name, "")
    return re.sub(r"\$\{([A-Z0-9_]+)(:\?|:-)?([^}]*)\}", one, str(value))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port-offset", type=int, default=10000)
    parser.add_argument("--database", default="temponest_stack_footprint")
    args = parser.parse_args()

    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    services = compose["services"]
    variables = {}
    database = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    ports = {name: int(resolve(services[name]["environment"]["PORT"], variables)) for name in ORDER}
    ports["edge"] = ports["agents"]

    def localise(key, value):
        if key == "DATABASE_URL":
            return database
        if key == "REDIS_URL":
            return "redis://127.0.0.1:6379"
        if key == "OTEL_EXPORTER_OTLP_ENDPOINT":
            return ""  # no collector here; exporting to nowhere would only add retries
        if key == "TEMPONEST_REDIS_KEY_PREFIX":
            return f"footprint{os.getpid()}"
        for host, port in ports.items():
            value = value.replace(f"{host}:{port}", f"127.0.0.1:{port + args.port_offset}")
        if key == "PORT":
            return str(int(value) + args.port_offset)
        return value

    def environment(name):
        env = {"PATH": os.environ["PATH"], "BIND_ADDRESS": "127.0.0.1", **IMAGE_ENV}
        for key, value in services[name]["environment"].items():
            env[key] = localise(key, resolve(value, variables))
        return env

    def binary(name):
        build = services[name].get("build", {})
        bin_name = build.get("args", {}).get("BIN", "temponest") if isinstance(build, dict) else "temponest"
        return os.path.join(ROOT, "target", "release", bin_name)

    subprocess.run(["psql", "-qh", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c",
                    f'drop database if exists "{args.database}" with (force)'], check=True)
    subprocess.run(["psql", "-qh", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c",
                    f'create database "{args.database}"'], check=True)
    logs = tempfile.mkdtemp(prefix="footprint-")
    running = {}

    def start(name):
        log = open(os.path.join(logs, f"{name}.log"), "ab")
        started = time.monotonic()
        proc = subprocess.Popen([binary(name)], env=environment(name), stdout=log, stderr=log)
        url = f"http://127.0.0.1:{ports[name] + args.port_offset}/health/ready"
        while True:
            if proc.poll() is not None:
                sys.exit(f"{name} exited ({proc.returncode}); log: {logs}/{name}.log")
            try:
                if urllib.request.urlopen(url, timeout=1).status == 200:
                    break
            except Exception:
                pass
            if time.monotonic() - started > 60:
                sys.exit(f"{name} not ready after 60 s; log: {logs}/{name}.log")
            time.sleep(0.005)
        running[name] = proc
        return (time.monotonic() - started) * 1000

    def stop(name):
        proc = running.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)

    try:
        migrate = services["migrate"]
        result = subprocess.run([binary("migrate"), *migrate["command"]], env=environment("migrate"),
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"migrate failed: {result.stderr[-2000:]}")
        ready = {name: [] for name in ORDER}
        for run in range(args.runs):
            for name in ORDER:
                ready[name].append(start(name))
            if run < args.runs - 1:
                for name in reversed(ORDER):
                    stop(name)
        time.sleep(5)
        print(f"{'service':<10} {'binary':>10} {'stripped':>10} {'ready ms (median; all)':>28} {'idle RSS':>10}")
        for name in ORDER:
            path = binary(name)
            stripped = os.path.join(logs, os.path.basename(path) + ".stripped")
            shutil.copy(path, stripped)
            subprocess.run(["strip", stripped], check=True)
            rss = int(open(f"/proc/{running[name].pid}/status").read().split("VmRSS:")[1].split()[0])
            times = ", ".join(f"{t:.0f}" for t in ready[name])
            print(f"{name:<10} {os.path.getsize(path) / 1e6:>8.1f}MB {os.path.getsize(stripped) / 1e6:>8.1f}MB "
                  f"{statistics.median(ready[name]):>8.0f} ({times})".ljust(62) + f" {rss / 1024:>7.1f}MB")
    finally:
        for name in list(reversed(ORDER)):
            if name in running:
                stop(name)
        subprocess.run(["psql", "-qh", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c",
                        f'drop database if exists "{args.database}" with (force)'])


if __name__ == "__main__":
    main()
