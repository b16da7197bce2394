#!/usr/bin/env python3
"""Validates compose.yaml (and the ECS override) and the Dockerfile without a Docker engine.

  check_compose.py ROOT [OPFLEET_BINARY]

Docker Compose itself (Debian's docker-compose) resolves and validates each file set
(`docker-compose config`); this then checks what the deployment relies on: the services
exist, start in order (health checks and completion conditions), drain within their stop
grace period, publish ports on loopback only, use pinned images, and run opfleet command
lines and OPFLEET_* environments that the binary accepts (`opfleet ARGS --help` parses
every flag; `opfleet config show --for CMD` validates every variable). The Dockerfile is
checked for its stages (build on bookworm, run on bookworm-slim), a non-root user, and
COPY sources that exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import yaml

errors: list[str] = []


def fail(message: str) -> None:
    errors.append(message)


def compose_config(root: str, files: list[str], env: dict[str, str]) -> dict:
    args = ["docker-compose", "--project-directory", root]
    for f in files:
        args += ["-f", os.path.join(root, f)]
    proc = subprocess.run(args + ["config"], capture_output=True, text=True,
                          env={**os.environ, **env}, check=False)
    if proc.returncode != 0:
        fail(f"docker-compose config ({' + '.join(files)}): {proc.stderr.strip()}")
        return {}
    return yaml.safe_load(proc.stdout)


def seconds(duration: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)", str(duration)):
        total += float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def opfleet_argv(service: dict) -> list[str] | None:
    """The opfleet arguments a service runs (entry point + command), if it runs opfleet."""
    entrypoint = service.get("entrypoint")
    command = service.get("command") or []
    if isinstance(command, str):
        command = shlex.split(command)
    if entrypoint is None:  # the image's: tini -s -- opfleet
        return list(command)
    if isinstance(entrypoint, str):
        entrypoint = shlex.split(entrypoint)
    if entrypoint[:2] == ["/bin/sh", "-ec"]:
        script = entrypoint[2].replace("$$", "$")
        for part in re.split(r"&&|;", script):
            words = shlex.split(part.replace('"$(hostname)"', "host"))
            if words and words[0] == "exec":
                words = words[1:]
            if words and words[0] in ("opfleet", "/usr/bin/opfleet"):
                return words[1:]
    return None


def check_opfleet(binary: str | None, where: str, argv: list[str], environment: dict) -> None:
    """The binary accepts the service's command line and its OPFLEET_* variables."""
    if binary is None or not argv:
        return
    clean = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run([binary, *argv, "--help"], capture_output=True, text=True, check=False, env=clean)
    if proc.returncode != 0:
        fail(f"{where}: `opfleet {' '.join(argv)}` is refused by the binary: {proc.stderr.strip()}")
        return
    env = {**clean, **{k: str(v) for k, v in (environment or {}).items() if k.startswith("OPFLEET_")}}
    proc = subprocess.run([binary, "config", "show", "--for", argv[0], "--config", "/dev/null"],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        fail(f"{where}: the binary refuses its environment: {proc.stderr.strip()}")


def check_base(config: dict, binary: str | None) -> None:
    services = config.get("services", {})
    wanted = {"localstack", "postgres", "init", "host", "scaler", "scheduler", "ui", "cli"}
    if missing := wanted - set(services):
        fail(f"compose.yaml: services missing: {sorted(missing)}")
        return
    supervisors = sorted(n for n in services if n.startswith("supervisor-"))
    if len(supervisors) < 2:
        fail("compose.yaml: the fleet should run several supervisors (supervisor-N)")

    for name in ["localstack", "postgres", "scaler", "ui", *supervisors]:
        if "test" not in services[name].get("healthcheck", {}):
            fail(f"compose.yaml: {name} has no health check")

    def depends(name: str) -> dict:
        return services[name].get("depends_on", {})

    if depends("init") != {"localstack": {"condition": "service_healthy"},
                           "postgres": {"condition": "service_healthy"}}:
        fail("compose.yaml: init must wait for healthy localstack and postgres")
    for name in ["scheduler", "ui", "cli", *supervisors]:
        if depends(name).get("init") != {"condition": "service_completed_successfully"}:
            fail(f"compose.yaml: {name} must start after init completed successfully")
    for name in supervisors:
        if depends("scaler").get(name) != {"condition": "service_healthy"}:
            fail(f"compose.yaml: the scaler must wait for {name} to be healthy")
    if services["init"].get("restart") != "no":
        fail("compose.yaml: init is one-shot (restart: \"no\")")
    for name in ["localstack", "postgres", "host", "scaler", "scheduler", "ui", *supervisors]:
        if services[name].get("restart") not in ("unless-stopped", "always", "on-failure"):
            fail(f"compose.yaml: {name} is not restarted when it fails")

    # The supervisors and the scaler share the host service's IPC and PID namespaces, and
    # the scaler's local actuator names every supervisor instance.
    if services["host"].get("ipc") != "shareable":
        fail("compose.yaml: host must have ipc: shareable")
    instances = []
    for name in ["scaler", *supervisors]:
        if services[name].get("ipc") != "service:host" or services[name].get("pid") != "service:host":
            fail(f"compose.yaml: {name} must join the host service's IPC and PID namespaces")
    for name in supervisors:
        sup = services[name]
        instances.append(sup.get("environment", {}).get("OPFLEET_INSTANCE", ""))
        argv = opfleet_argv(sup) or []
        if argv[:1] != ["supervise"]:
            fail(f"compose.yaml: {name} does not run opfleet supervise")
        drain = float(argv[argv.index("--drain-timeout-s") + 1]) if "--drain-timeout-s" in argv else 30.0
        if seconds(sup.get("stop_grace_period", "10s")) <= drain:
            fail(f"compose.yaml: {name} stop_grace_period must exceed its drain timeout ({drain:g} s)")
        if sup.get("stop_signal", "SIGTERM") != "SIGTERM":
            fail(f"compose.yaml: {name} must be stopped with SIGTERM (drain)")
    if len(set(instances)) != len(instances) or "" in instances:
        fail(f"compose.yaml: every supervisor needs its own OPFLEET_INSTANCE (have {instances})")
    scaler_env = services["scaler"].get("environment", {})
    listed = sorted(str(scaler_env.get("OPFLEET_LOCAL_INSTANCES", "")).split(","))
    if scaler_env.get("OPFLEET_ACTUATOR") != "local" or listed != sorted(instances):
        fail(f"compose.yaml: the scaler must drive the local supervisors {sorted(instances)}, has {listed}")

    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            if host_ip != "127.0.0.1":
                fail(f"compose.yaml: {name} publishes {port} beyond 127.0.0.1")
        image = service.get("image", "")
        if "build" not in service and (":" not in image or image.endswith(":latest")):
            fail(f"compose.yaml: {name} uses an unpinned image '{image}'")
        argv = opfleet_argv(service)
        if argv is not None and "build" in service:
            check_opfleet(binary, f"compose.yaml service {name}", argv, service.get("environment", {}))


def check_ecs_override(config: dict, binary: str | None) -> None:
    services = config.get("services", {})
    localstack = services.get("localstack", {})
    if "localstack-pro" not in localstack.get("image", ""):
        fail("packaging/compose/ecs.yaml: LocalStack Pro image expected")
    if not localstack.get("environment", {}).get("LOCALSTACK_AUTH_TOKEN"):
        fail("packaging/compose/ecs.yaml: LOCALSTACK_AUTH_TOKEN is not passed")
    scaler = services.get("scaler", {})
    env = scaler.get("environment", {})
    if env.get("OPFLEET_ACTUATOR") != "ecs" or not env.get("OPFLEET_ECS_SERVICE"):
        fail("packaging/compose/ecs.yaml: the scaler must use the ECS actuator on a named service")
    check_opfleet(binary, "packaging/compose/ecs.yaml service scaler", opfleet_argv(scaler) or [], env)


def check_dockerfile(root: str) -> None:
    path = os.path.join(root, "packaging/docker/Dockerfile")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Join continued lines into instructions.
    instructions = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    args = {m.group(1): m.group(2) for i in instructions if (m := re.match(r"ARG (\w+)=(\S+)", i))}

    def expand(s: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), s)

    stages = [expand(i.split()[1]) for i in instructions if i.startswith("FROM ")]
    if stages != ["debian:bookworm", "debian:bookworm-slim"]:
        fail(f"Dockerfile: stages {stages}, expected build on debian:bookworm, run on debian:bookworm-slim")
    last_from = max(n for n, i in enumerate(instructions) if i.startswith("FROM "))
    users = [expand(i.split()[1]) for i in instructions[last_from:] if i.startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail("Dockerfile: the runtime stage must end as a non-root USER")
    for i in instructions:
        if i.startswith("COPY ") and "--from=" not in i:
            for source in i.split()[1:-1]:
                if source != "." and not os.path.exists(os.path.join(root, source)):
                    fail(f"Dockerfile: COPY source {source} does not exist")
    if not any("opfleet_*.deb" in i and "apt-get install" in i for i in instructions[last_from:]):
        fail("Dockerfile: the runtime stage must install the .deb")
    ignore = os.path.join(root, ".dockerignore")
    if not os.path.exists(ignore) or not {"build*/", ".stack/", ".tools/"} <= set(open(ignore).read().split()):
        fail(".dockerignore must keep the build trees, .stack/ and .tools/ out of the build context")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = argv[1]
    binary = argv[2] if len(argv) == 3 else None
    # Without a token the ECS override refuses to resolve, as it should.
    base = compose_config(root, ["compose.yaml"], {"LOCALSTACK_AUTH_TOKEN": ""})
    if base:
        check_base(base, binary)
    ecs = compose_config(root, ["compose.yaml", "packaging/compose/ecs.yaml"],
                         {"LOCALSTACK_AUTH_TOKEN": "check-only-not-a-token"})
    if ecs:
        check_ecs_override(ecs, binary)
    no_token = subprocess.run(
        ["docker-compose", "--project-directory", root, "-f", os.path.join(root, "compose.yaml"),
         "-f", os.path.join(root, "packaging/compose/ecs.yaml"), "config", "-q"],
        capture_output=True, text=True, env={**os.environ, "LOCALSTACK_AUTH_TOKEN": ""}, check=False)
    if no_token.returncode == 0:
        fail("packaging/compose/ecs.yaml resolves without LOCALSTACK_AUTH_TOKEN")
    check_dockerfile(root)
    for e in errors:
        print(f"check_compose: {e}", file=sys.stderr)
    if errors:
        return 1
    print("check_compose: compose.yaml, packaging/compose/ecs.yaml and the Dockerfile are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
