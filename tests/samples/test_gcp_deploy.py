"""Each sample's gcp/deploy.sh run for real, with bash, against a fake gcloud first on PATH that
records every command (and a copy of the source each function is deployed from): what the
deployment relies on shows in those commands, whichever script or shared step
(samples/gcp_deploy.sh) issues them. Nothing reaches Google Cloud."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from adapters.gcp.dlq import SUBSCRIPTION_SUFFIX, PubSubSink
from adapters.gcp.store import FirestoreStore
from samples import orders
from tests.samples.support import SAMPLES, wrapper

FAKE_GCLOUD = r"""#!/usr/bin/env bash
# Logs the project and the arguments of each command, answers the describes deploy.sh reads,
# keeps a copy of the source it deploys (deploy.sh removes its own), and fails the commands
# that start with $GCLOUD_FAILS.
printf '%q ' "${CLOUDSDK_CORE_PROJECT-}" "$@" >> "$GCLOUD_LOG"; echo >> "$GCLOUD_LOG"
[[ -n "${GCLOUD_FAILS:-}" && "$*" == "$GCLOUD_FAILS"* ]] && exit 1
case "$*" in
  "projects describe "*"value(projectNumber)") echo 123456789012 ;;
  "functions describe "*"value(serviceConfig.serviceAccountEmail)")
    echo "$3-runtime@$CLOUDSDK_CORE_PROJECT.iam.gserviceaccount.com" ;;
  "functions describe "*"value(serviceConfig.uri)") echo "https://$3-x7.a.run.app" ;;
  "functions deploy "*)
    name="$3"
    while [[ "$1" != --source ]]; do shift; done
    cp -r "$2" "$GCLOUD_LOG.$name" ;;
esac
"""
PROJECT_NUMBER = "123456789012"
PUBSUB_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
STORAGE_AGENT = (f"serviceAccount:service-{PROJECT_NUMBER}"
                 "@gs-project-accounts.iam.gserviceaccount.com")
DEFAULT_TIMEOUT = 60  # seconds a Cloud Run function may run unless --timeout says otherwise


class Sample(NamedTuple):
    topic: str  # what the push subscription reads
    entries: dict[str, str]  # function -> entry point


# The names deploy.sh documents as its defaults (every run keeps them).
EXPECTED = {"hello": Sample("hello-events", {"hello-push": "push", "hello-uploads": "main"}),
            "orders": Sample("orders", {"orders-push": "push"}),
            "upload": Sample("upload-notifications", {"upload-push": "push"})}
RUNS = {"hello": ("hello", {"BUCKET": "b"}), "hello-no-bucket": ("hello", {}),
        "orders": ("orders", {}), "upload": ("upload", {"BUCKET": "b"}),
        "orders-elsewhere": ("orders", {"PUBLISH_TO": "sqs://sqs.eu-west-1.amazonaws.com/1/q",
                                        "EXTRA_ENV": "AWS_REGION=eu-west-1,X=1"})}


class Run(NamedTuple):
    returncode: int
    commands: list[list[str]]  # each gcloud command's arguments, in order
    projects: set[str]  # CLOUDSDK_CORE_PROJECT as each command saw it
    stdout: str
    folder: Path  # the copies of the deployed sources (gcloud.log.<function>), tmp/

    def find(self, *words: str) -> list[list[str]]:
        return [c for c in self.commands if c[:len(words)] == list(words)]

    def the(self, *words: str) -> list[str]:
        [command] = self.find(*words)
        return command

    def granted(self, member: str) -> set[tuple[str, str]]:
        """(resource, role) pairs granted to ``member``."""
        return {(option(c, "add-iam-policy-binding"), option(c, "--role"))
                for c in self.commands
                if "add-iam-policy-binding" in c and option(c, "--member") == member}


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def settings(deploy: list[str]) -> dict[str, str]:
    pairs = [pair.split("=", 1) for pair in option(deploy, "--set-env-vars").split(",")]
    return {name: value for name, value in pairs}


def deploy_sh(sample: str, folder: Path, **environment: str) -> Run:
    """Run ``samples/<sample>/gcp/deploy.sh`` from ``folder`` with PROJECT=p and the fake
    gcloud; nothing of the caller's environment but PATH (behind the fake)."""
    (folder / "bin").mkdir(parents=True)
    (folder / "tmp").mkdir()
    gcloud = folder / "bin" / "gcloud"
    gcloud.write_text(FAKE_GCLOUD)
    gcloud.chmod(0o755)
    log = folder / "gcloud.log"
    log.touch()
    done = subprocess.run(
        ["bash", str(SAMPLES / sample / "gcp" / "deploy.sh")], cwd=folder, capture_output=True,
        text=True, timeout=60, env={"PATH": f"{gcloud.parent}{os.pathsep}{os.environ['PATH']}",
                                    "HOME": str(folder), "TMPDIR": str(folder / "tmp"),
                                    "GCLOUD_LOG": str(log), "PROJECT": "p", **environment})
    lines = [shlex.split(line) for line in log.read_text().splitlines()]
    return Run(done.returncode, [line[1:] for line in lines], {line[0] for line in lines},
               done.stdout, folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return {name: deploy_sh(sample, tmp_path_factory.mktemp(name), **environment)
            for name, (sample, environment) in RUNS.items()}


@pytest.mark.parametrize("name", RUNS)
def test_deploy_sh_runs_from_anywhere_on_the_project_and_leaves_no_temporary_files(
        name: str, runs: dict[str, Run]) -> None:
    run = runs[name]
    assert run.returncode == 0, run.stdout
    assert run.projects == {"p"}  # the commands without --project work on PROJECT
    assert not list((run.folder / "tmp").iterdir())


@pytest.mark.parametrize("sample", EXPECTED)
def test_each_entry_is_deployed_from_a_source_with_main_py_beside_its_packages(
        sample: str, runs: dict[str, Run], monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs[sample]
    deploys = run.find("functions", "deploy")
    assert {c[2]: option(c, "--entry-point") for c in deploys} == EXPECTED[sample].entries
    main = wrapper(sample, "gcp", monkeypatch)
    for deploy in deploys:
        assert callable(getattr(main, option(deploy, "--entry-point")))
        assert "--gen2" in deploy and option(deploy, "--runtime").startswith("python3")
        if option(deploy, "--entry-point") == "push":  # Pub/Sub push only, authenticated
            assert {"--trigger-http", "--no-allow-unauthenticated"} <= set(deploy)
        source = run.folder / f"gcloud.log.{deploy[2]}"
        for shipped in ("main.py", "requirements.txt"):
            assert (source / shipped).read_bytes() == (SAMPLES / sample / "gcp" / shipped
                                                       ).read_bytes()
        assert {"portable", "adapters", "samples"} <= {p.name for p in source.iterdir()}
        assert not list(source.rglob("__pycache__"))
    # As the Python runtime loads it: main.py from the source root, its packages beside it.
    source = run.folder / f"gcloud.log.{sample}-push"
    loaded = subprocess.run(
        [sys.executable, "-c", "import main, portable, samples; assert callable(main.push); "
         "print(main.__file__, portable.__file__, samples.__file__)"], cwd=source,
        capture_output=True, text=True, check=True,
        env={"PORTABLE_STORE": "memory://", "PORTABLE_DLQ": "memory://"}).stdout.split()
    assert [Path(path).relative_to(source).parts[0] for path in loaded] == [
        "main.py", "portable", "samples"]


def test_hello_deploys_the_uploads_function_only_for_a_bucket(runs: dict[str, Run]) -> None:
    assert option(runs["hello"].the("functions", "deploy", "hello-uploads"),
                  "--trigger-bucket") == "b"
    assert [c[2] for c in runs["hello-no-bucket"].find("functions", "deploy")] == ["hello-push"]


@pytest.mark.parametrize("sample", EXPECTED)
def test_the_functions_name_the_store_and_the_sink_that_deploy_sh_creates(
        sample: str, runs: dict[str, Run]) -> None:
    run = runs[sample]
    collection, dead_letters = f"{sample}-idempotency", f"{sample}-dead-letters"
    deploys = run.find("functions", "deploy")
    store = FirestoreStore.from_url(f"firestore://{collection}")
    sink = PubSubSink.from_url(f"pubsub://projects/p/topics/{dead_letters}")
    for deploy in deploys:
        values = settings(deploy)
        named_store = FirestoreStore.from_url(values["PORTABLE_STORE"])
        assert (named_store.collection, named_store.database) == (collection, None)  # default
        named_sink = PubSubSink.from_url(values["PORTABLE_DLQ"])
        assert (named_sink.topic, named_sink.subscription) == (sink.topic, sink.subscription)
        # The service account the function runs as may use both.
        runtime = f"serviceAccount:{deploy[2]}-runtime@p.iam.gserviceaccount.com"
        assert run.granted(runtime) >= {
            ("p", "roles/datastore.user"), (dead_letters, "roles/pubsub.publisher"),
            (sink.subscription.rsplit("/", 1)[1], "roles/pubsub.viewer")}

    run.the("firestore", "databases", "create")
    ttl = run.the("firestore", "fields", "ttls", "update")
    assert ttl[4] == "purge_at" and "--enable-ttl" in ttl  # the field FirestoreStore writes
    assert option(ttl, "--collection-group") == store.collection
    assert dead_letters in run.the("pubsub", "topics", "create")
    # The subscription the sink reads letters through exists before any letter is published.
    reader = run.the("pubsub", "subscriptions", "create", f"{dead_letters}{SUBSCRIPTION_SUFFIX}")
    assert sink.subscription == f"projects/p/subscriptions/{reader[3]}"
    assert option(reader, "--topic") == dead_letters
    assert run.commands.index(reader) < run.commands.index(deploys[0])


@pytest.mark.parametrize("sample", EXPECTED)
def test_the_push_subscription_dead_letters_after_the_attempts_main_py_counts(
        sample: str, runs: dict[str, Run], monkeypatch: pytest.MonkeyPatch) -> None:
    run, function = runs[sample], f"{sample}-push"
    push = run.the("pubsub", "subscriptions", "create", function)
    assert option(push, "--topic") == EXPECTED[sample].topic
    assert EXPECTED[sample].topic in run.the("pubsub", "topics", "create")
    assert option(push, "--dead-letter-topic") == f"{sample}-dead-letters"
    assert option(push, "--max-delivery-attempts") == str(
        wrapper(sample, "gcp", monkeypatch).MAX_DELIVERY_ATTEMPTS)
    deploy = run.the("functions", "deploy", function)
    timeout = int(option(deploy, "--timeout").removesuffix("s")) if "--timeout" in deploy \
        else DEFAULT_TIMEOUT
    assert int(option(push, "--ack-deadline")) >= timeout  # no redelivery while it runs

    # Pushed, with an identity that may invoke the function, to the function's own URL.
    assert option(push, "--push-endpoint") == f"https://{function}-x7.a.run.app"
    pusher = option(push, "--push-auth-service-account")
    assert pusher == f"{sample}-pusher@p.iam.gserviceaccount.com"
    run.the("iam", "service-accounts", "create", pusher.split("@")[0])
    invoker = run.the("functions", "add-invoker-policy-binding", function)
    assert option(invoker, "--member") == f"serviceAccount:{pusher}"
    # Pub/Sub's agent forwards under the policy: it publishes letters and acks the original.
    assert run.granted(PUBSUB_AGENT) == {(f"{sample}-dead-letters", "roles/pubsub.publisher"),
                                         (function, "roles/pubsub.subscriber")}


def test_the_upload_function_may_read_and_write_the_bucket_it_is_notified_of(
        runs: dict[str, Run]) -> None:
    run = runs["upload"]
    notification = run.the("storage", "buckets", "notifications", "create", "gs://b")
    assert option(notification, "--topic") == "upload-notifications"
    assert option(notification, "--event-types") == "OBJECT_FINALIZE"
    assert option(notification, "--payload-format") == "json"
    assert run.granted(STORAGE_AGENT) == {("upload-notifications", "roles/pubsub.publisher")}
    assert "--versioning" in run.the("storage", "buckets", "update", "gs://b")
    runtime = "serviceAccount:upload-push-runtime@p.iam.gserviceaccount.com"
    assert ("gs://b", "roles/storage.objectUser") in run.granted(runtime)
    requirements = (run.folder / "gcloud.log.upload-push" / "requirements.txt").read_text()
    assert "google-cloud-storage" in {line.split(">")[0] for line in requirements.splitlines()}


def test_the_orders_function_publishes_to_the_accepted_topic_by_default(
        runs: dict[str, Run]) -> None:
    run = runs["orders"]
    destination = settings(run.the("functions", "deploy", "orders-push"))["ORDERS_PUBLISH_TO"]
    publisher, address = orders.PUBLISHERS[destination.split(":")[0]]
    assert publisher == "adapters.gcp:publish"
    assert address(destination) == "projects/p/topics/orders-accepted"
    assert "orders-accepted" in run.the("pubsub", "topics", "create")
    runtime = "serviceAccount:orders-push-runtime@p.iam.gserviceaccount.com"
    assert ("orders-accepted", "roles/pubsub.publisher") in run.granted(runtime)

    elsewhere = settings(runs["orders-elsewhere"].the("functions", "deploy", "orders-push"))
    assert elsewhere["ORDERS_PUBLISH_TO"] == RUNS["orders-elsewhere"][1]["PUBLISH_TO"]
    assert (elsewhere["AWS_REGION"], elsewhere["X"]) == ("eu-west-1", "1")


@pytest.mark.parametrize(("failing", "stops"), [
    ("functions deploy", True), ("functions describe", True), ("projects describe", True),
    ("firestore databases create", False), ("iam service-accounts create", False)])
def test_a_failed_step_stops_the_deployment_but_an_existing_database_or_account_does_not(
        failing: str, stops: bool, tmp_path: Path) -> None:
    run = deploy_sh("orders", tmp_path, GCLOUD_FAILS=failing)
    assert (run.returncode != 0) == stops
    assert bool(run.find("pubsub", "subscriptions", "add-iam-policy-binding", "orders-push")) \
        != stops
    if not stops:
        assert "(keeping the existing" in run.stdout
    assert not list((tmp_path / "tmp").iterdir())
