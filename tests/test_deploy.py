"""The deployment files, checked offline: Kubernetes manifests against the API schemas, docker-compose.

No cluster and no Docker engine run here. The manifests are validated with kubernetes-validate's
bundled schemas (strict: unknown fields fail), and the files are checked against each other: what
the kustomization lists, what the Deployment references, what the compose file wires together.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from cot_proxy.rules.config_file import parse_config

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "kubernetes"
# The oldest Kubernetes release still commonly run, and the newest the package knows.
K8S_VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the manifest, for every resource the kustomization lists."""
    out = {}
    for name in load(K8S / "kustomization.yaml")["resources"]:
        doc = load(K8S / name)
        out[doc["kind"]] = doc
    return out


def container() -> dict[str, Any]:
    [c] = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return c


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in c["env"]}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    "name", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_manifest_is_valid_kubernetes(name: str, version: str) -> None:
    kubernetes_validate.validate(load(K8S / name), version, strict=True)


def test_schema_validation_can_fail() -> None:
    deployment = manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "port"
    ] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_exactly_the_manifests() -> None:
    kustomization = load(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in K8S.iterdir() if p.is_file()} - {"kustomization.yaml"}
    assert set(listed) == on_disk
    kinds = sorted(manifests())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Secret",
            "Service",
        ]
    )
    [image] = kustomization["images"]
    assert image["name"] == container()["image"]


def test_deployment_probes_security_and_shutdown() -> None:
    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    c = container()
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    # /health waits up to 5 s for the target: the probe must wait longer
    assert c["readinessProbe"]["timeoutSeconds"] > 5
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert env_of(c)["TMPDIR"]["value"] == "/tmp"
    grace = int(env_of(c)["SHUTDOWN_GRACE_SECONDS"]["value"])
    pause = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    assert (grace, pod["terminationGracePeriodSeconds"]) == (30, 45)
    assert grace + pause < pod["terminationGracePeriodSeconds"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(c["ports"][0]["containerPort"]) == "5000"


def test_rules_come_from_the_configmap_as_a_directory() -> None:
    c = container()
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    config_file = Path(env_of(c)["CONFIG_FILE"]["value"])
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_file.parent)]
    # subPath would pin the file: updates arrive only through the directory's symlink swap
    assert "subPath" not in mount and mount["readOnly"] is True
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = manifests()["ConfigMap"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    rules = parse_config(configmap["data"][config_file.name], config_file.name)
    assert [r.pattern for r in rules] == ["qwen3-*"]


def test_secrets_only_by_secret_key_ref() -> None:
    secret = manifests()["Secret"]
    env = env_of(container())
    for key in ("PROXY_API_KEYS", "TARGET_API_KEY"):
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert "value" not in env[key]
        assert (ref["name"], ref["key"]) == (secret["metadata"]["name"], key)
        assert key in secret["stringData"]
    assert "PROXY_API_KEYS" not in str(manifests()["ConfigMap"])


def test_env_names_are_documented_settings() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    for name in env_of(container()):
        # the Configuration table, or (SHUTDOWN_GRACE_SECONDS, from the graceful-stop work) the text
        assert re.search(rf"`{name}[`=]", page), name


def test_service_hpa_pdb_point_at_the_pods() -> None:
    m = manifests()
    labels = m["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert m["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert m["Service"]["spec"]["selector"].items() <= labels.items()
    assert m["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [port] = m["Service"]["spec"]["ports"]
    assert port["targetPort"] == container()["ports"][0]["name"]
    target = m["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", m["Deployment"]["metadata"]["name"])
    [metric] = m["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # a PDB that allows one pod down needs more than one pod
    assert m["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2


def compose() -> dict[str, Any]:
    return load(REPO / "docker-compose.yml")


REDIS_OVERLAY = K8S / "overlays" / "redis"


def overlay_docs() -> list[dict[str, Any]]:
    return list(YAML(typ="safe", pure=True).load_all((REDIS_OVERLAY / "redis.yaml").read_text()))


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_redis_overlay_manifests_are_valid_kubernetes(version: str) -> None:
    docs = overlay_docs()
    assert sorted(d["kind"] for d in docs) == ["Deployment", "NetworkPolicy", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_redis_overlay_points_the_proxy_at_its_redis() -> None:
    kustomization = load(REDIS_OVERLAY / "kustomization.yaml")
    assert kustomization["resources"] == ["../..", "redis.yaml"]
    assert (REDIS_OVERLAY / "../../kustomization.yaml").resolve() == K8S / "kustomization.yaml"
    [patch] = kustomization["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": "cot-proxy"}
    [op] = YAML(typ="safe", pure=True).load(patch["patch"])
    service = next(d for d in overlay_docs() if d["kind"] == "Service")
    [port] = service["spec"]["ports"]
    assert op["value"] == {
        "name": "REASONING_STORE",
        "value": f"redis://{service['metadata']['name']}:{port['port']}/0",
    }
    deployment = next(d for d in overlay_docs() if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    policy = next(d for d in overlay_docs() if d["kind"] == "NetworkPolicy")
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["podSelector"]["matchLabels"] == container_labels()


def container_labels() -> dict[str, str]:
    return dict(manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"])


def test_compose_redis_is_optional_and_keeps_nothing() -> None:
    services = compose()["services"]
    redis = services["redis"]
    assert redis["profiles"] == ["redis"]  # started only with --profile redis
    command = redis["command"]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert services["cot-proxy"]["environment"]["REASONING_STORE"] == "${REASONING_STORE:-memory}"
    assert "depends_on" not in redis and "redis" not in services["cot-proxy"]["depends_on"]


def test_compose_proxy_in_front_of_llama_cpp() -> None:
    services = compose()["services"]
    assert set(services) == {"llm", "cot-proxy", "redis"}
    llm, proxy = services["llm"], services["cot-proxy"]
    assert llm["image"] == "ghcr.io/ggml-org/llama.cpp:server"
    command = llm["command"]
    model = command[command.index("-hf") + 1]
    assert re.fullmatch(r"[\w.-]+/Qwen3-0\.6B-GGUF(:\w+)?", model), model
    assert command[command.index("--reasoning-format") + 1] == "none"  # think stays in content
    llm_port = command[command.index("--port") + 1]
    assert proxy["environment"]["TARGET_BASE_URL"] == f"http://llm:{llm_port}/v1"
    assert proxy["depends_on"] == {"llm": {"condition": "service_healthy"}}
    assert proxy["ports"] == ["5000:5000"]
    assert proxy["build"] == "."
    assert (REPO / "Dockerfile").is_file()


def test_compose_healthchecks() -> None:
    services = compose()["services"]
    llm_port = services["llm"]["command"][services["llm"]["command"].index("--port") + 1]
    assert services["llm"]["healthcheck"]["test"] == [
        "CMD",
        "curl",
        "-fsS",
        f"http://localhost:{llm_port}/health",
    ]
    proxy_check = services["cot-proxy"]["healthcheck"]["test"]
    assert proxy_check[:2] == ["CMD", "python"]
    assert (REPO / Path(proxy_check[2]).relative_to("/app")).is_file()
    for service in services.values():
        assert {"interval", "timeout", "retries", "start_period"} <= set(service["healthcheck"])


def test_compose_proxy_runs_hardened_and_holds_no_secrets() -> None:
    proxy = compose()["services"]["cot-proxy"]
    assert proxy["read_only"] is True
    assert proxy["tmpfs"] == ["/tmp"]
    assert proxy["user"].endswith(":0") and not proxy["user"].startswith("0")
    assert proxy["cap_drop"] == ["ALL"]
    assert not {"PROXY_API_KEYS", "TARGET_API_KEY"} & set(proxy["environment"])
    assert Path(proxy["environment"]["CONFIG_FILE"]).name in (REPO / "Dockerfile").read_text()


def default_grace_seconds() -> int:
    """The default the settings table gives SHUTDOWN_GRACE_SECONDS (entrypoint.sh reads it)."""
    from cot_proxy.settings import BY_OPTION

    return int(BY_OPTION["shutdown_grace_seconds"].default)


def test_docker_and_compose_wait_for_the_drain() -> None:
    """`docker stop` waits 10 s before SIGKILL by default: less than the proxy's drain."""
    grace = default_grace_seconds()
    proxy = compose()["services"]["cot-proxy"]
    stop = int(re.fullmatch(r"(\d+)s", proxy["stop_grace_period"])[1])
    assert "SHUTDOWN_GRACE_SECONDS" not in proxy["environment"]  # the default, as above
    assert grace < stop <= grace + 10
    page = (REPO / "docs" / "operations.md").read_text()  # Docker, docker-compose
    runs = re.findall(r"^docker run .*$", page, re.MULTILINE)
    assert runs and all(f" --stop-timeout {stop} " in run for run in runs), runs
    assert f"`stop_grace_period: {stop}s`" in page


def test_image_runs_as_any_uid_in_group_zero() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    [user] = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    uid, gid = user.split()[1].split(":")
    assert int(uid) > 0 and gid == "0"
    assert "chgrp -R 0 /app" in dockerfile and "g=u" in dockerfile


def test_image_code_is_not_writable_by_its_user(tmp_path: Path) -> None:
    """The Dockerfile's chmod, run on a tree as COPY leaves it (root's rw, others' r): the user
    (any uid in group 0, not the owner) may read and execute, never write."""
    dockerfile = (REPO / "Dockerfile").read_text()
    [mode] = re.findall(r"chmod -R (\S+) /app", dockerfile)
    app = tmp_path / "app"
    (app / "addon").mkdir(parents=True)
    (app / "addon" / "main.py").write_text("")
    (app / "entrypoint.sh").write_text("")
    (app / "entrypoint.sh").chmod(0o755)
    subprocess.run(["chmod", "-R", mode, str(app)], check=True)
    for path in [app, *app.rglob("*")]:
        bits = path.stat().st_mode
        assert not bits & (stat.S_IWGRP | stat.S_IWOTH), (path, oct(bits))
        assert bits & stat.S_IRGRP, (path, oct(bits))
        if path.is_dir() or path.name.endswith(".sh"):
            assert bits & stat.S_IXGRP, (path, oct(bits))
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"demo", "deploy", "tests", "bench"} <= set(ignored)


def test_image_labels_carry_the_version_file() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    version = (REPO / "VERSION").read_text().strip()
    assert re.search(rf"^ARG VERSION={re.escape(version)}$", dockerfile, re.MULTILINE)
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', dockerfile))
    assert labels["org.opencontainers.image.version"] == "$VERSION"
    assert labels["org.opencontainers.image.title"] == "cot-proxy"
    assert labels["org.opencontainers.image.description"]
    [base] = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert labels["org.opencontainers.image.base.name"] == f"docker.io/library/{base}"
    [copied] = re.findall(r"^COPY (.*) \./$", dockerfile, re.MULTILINE)
    assert "VERSION" in copied.split()  # /health and entrypoint.sh read it in the image


def per_pod_tokens_per_s() -> int:
    """What a pod carries at the HPA's target, derived as the README says: the target is a share
    of the CPU request, and a core moves 1 s ÷ (CPU per event) events (bench/LATEST.md)."""
    resources = container()["resources"]
    request = resources["requests"]["cpu"]
    cores = int(request[:-1]) / 1000 if request.endswith("m") else float(request)
    (metric,) = manifests()["HorizontalPodAutoscaler"]["spec"]["metrics"]
    share = metric["resource"]["target"]["averageUtilization"] / 100
    latest = (REPO / "bench" / "LATEST.md").read_text()
    row = re.search(r"^\| stream-256 \| CPU µs/event \|[^|]*\|[^|]*\| ([\d,.]+) \|", latest, re.M)
    assert row, "bench/LATEST.md has no stream-256 CPU row"
    per_core = 1e6 / float(row[1].replace(",", ""))
    return round(share * cores * per_core, -2)


def test_sizing_follows_the_manifests_and_the_bench() -> None:
    figure = f"{per_pod_tokens_per_s():,.0f}"
    page = (REPO / "docs" / "operations.md").read_text()
    assert f"≈ **{figure}\ntokens/s**" in page or f"≈ **{figure} tokens/s**" in page, figure
    assert f"÷ {figure}" in page, figure
    assert f"{figure} tokens/s" in (K8S / "deployment.yaml").read_text(), figure
