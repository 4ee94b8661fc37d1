"""The Django side of a local run: inputs from the tenant's bucket into the run directory before ``submit``,
results back into the bucket after the run succeeded.

The choice: staging and publishing happen here, in the worker that submits and polls (it has the settings
and the tenant's Bucket row, so ``tenants.storage.storage_for``), not in the detached supervisor or a step,
which stay free of Django and of storage credentials. The steps only see local files.

- ``stage_inputs`` downloads every sample's FASTQ files to ``work/inputs/<key>`` (skipping a file already
  there with the bucket's size, so a resubmit does not download again) and writes ``inputs/samples.json``.
- ``publish_results`` uploads everything under ``work/results/`` to ``results/<workset code>/`` (or the spec's
  ``export_uri``) and returns the keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from jobs.backends.base import PipelinePlan, Run
from jobs.pipelines import MANIFEST, RESULTS, needs_inputs, plan_for
from tenants.storage import clean_key, storage_for


class StagingError(Exception):
    """An input cannot be staged (not in the bucket, another bucket, a bad key); the message says which."""


def bucket_key(bucket, location: str) -> str:
    """The key in ``bucket`` that a spec's path means (``inputs/x.fastq.gz`` or ``s3://<bucket>/inputs/…``)."""
    prefix = f"s3://{bucket.name}/"
    if location.startswith(prefix):
        location = location[len(prefix) :]
    elif "://" in location:
        raise StagingError(f"{location} is not in the tenant's bucket.")
    return clean_key(location)


def make_run(schema: str, workset_code: str, spec: dict, *, plan: PipelinePlan | None = None) -> Run:
    return Run(schema=schema, workset_code=workset_code, spec=spec, plan=plan or plan_for(spec["pipeline"]))


def stage_inputs(bucket, run: Run, work_dir: Path) -> list[dict]:
    """Download the samples' FASTQs into ``work_dir/inputs/`` and write the manifest; return it."""
    manifest = []
    if not needs_inputs(run.plan.pipeline):
        return manifest
    storage = storage_for(bucket)
    for sample in run.spec["samples"]:
        entry = {"sample_id": sample["sample_id"], "fastq_r1": None, "fastq_r2": None}
        for field in ("fastq_r1", "fastq_r2"):
            if not sample.get(field):
                continue
            key = bucket_key(bucket, sample[field])
            target = work_dir / "inputs" / key
            info = storage.head(key)
            if not (target.exists() and target.stat().st_size == info.size):
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".part")
                with open(partial, "wb") as out:
                    for chunk in storage.download(key):
                        out.write(chunk)
                partial.replace(target)
            entry[field] = f"inputs/{key}"
        manifest.append(entry)
    path = work_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2))
    return manifest


def results_prefix(run: Run) -> str:
    export = run.spec.get("export_uri")
    if export:
        return bucket_key_folder(export)
    return f"results/{run.workset_code}/"


def bucket_key_folder(location: str) -> str:
    if location.startswith("s3://"):
        location = location.split("/", 3)[3] if location.count("/") >= 3 else ""
    return clean_key(location, folder=True)


def publish_results(bucket, run: Run, work_dir: Path) -> list[str]:
    """Upload ``work_dir/results/**`` under the run's results prefix; return the keys, sorted."""
    storage = storage_for(bucket)
    prefix = results_prefix(run)
    root = work_dir / RESULTS
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = clean_key(prefix + path.relative_to(root).as_posix())
        content_type = "text/tab-separated-values" if path.suffix == ".tsv" else "application/json"
        with open(path, "rb") as data:
            storage.upload(key, data, content_type=content_type if path.suffix in (".tsv", ".json") else "")
        keys.append(key)
    return keys
