"""Files of a repository at HEAD: listing with blob shas, batched blob reads, skip rules."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kb.contract.records import TreeFile
from kb.errors import SourceError

SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"

# Directories whose content is someone else's code (checked on every path component).
VENDORED_DIRS = frozenset(
    {
        "vendor",
        "vendors",
        "third_party",
        "third-party",
        "thirdparty",
        "node_modules",
        "bower_components",
        ".venv",
        "venv",
        "site-packages",
    }
)

LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "pipfile.lock",
        "pdm.lock",
        "uv.lock",
        "cargo.lock",
        "go.sum",
        "gemfile.lock",
        "composer.lock",
        "mix.lock",
        "podfile.lock",
        "flake.lock",
        "packages.lock.json",
        "gradle.lockfile",
    }
)

_GENERATED_NAME = re.compile(
    r"(_pb2(_grpc)?\.pyi?|\.pb\.go|\.pb\.(cc|h)|\.min\.(js|css)|\.generated\.\w+|\.g\.dart"
    r"|\.designer\.cs|-generated\.\w+)$",
    re.IGNORECASE,
)
# Go's convention ("Code generated ... DO NOT EDIT."), the @generated marker (Meta, Rust) and
# the usual banners, looked for in a file's header only (a script may write such a banner).
_GENERATED_HEADER = re.compile(
    r"Code generated .{0,200}DO NOT EDIT|@generated\b"
    r"|(?i:this file (?:is|was|has been) (?:auto-?|automatically )?generated)"
    r"|(?i:auto-?generated.{0,60}\b(?:do not|don't) (?:manually )?edit)"
)
GENERATED_HEADER_LINES = 30

_BINARY_EXTENSIONS = """png jpg jpeg gif bmp ico icns webp tiff psd svgz pdf zip gz tgz bz2 xz
    zst 7z rar tar
    jar war ear class so dylib dll exe bin o a lib obj pyc pyo pyd whl egg woff woff2 ttf otf
    eot mp3 mp4 m4a mov avi mkv wav flac ogg webm sqlite sqlite3 db parquet avro orc pkl
    pickle npy npz h5 hdf5 onnx pt pth ckpt safetensors tflite dat iso dmg apk ipa"""
BINARY_EXTENSIONS = frozenset(_BINARY_EXTENSIONS.split())


@dataclass(frozen=True)
class TreeEntry:
    """One entry of `git ls-tree -r -l` at HEAD."""

    mode: str
    kind: str  # blob | commit (submodule)
    sha: str
    size: int | None
    path: str


def list_tree(repo_path: Path, rev: str = "HEAD") -> list[TreeEntry]:
    """Every file at `rev` with its blob sha and size, in one git call."""
    res = subprocess.run(
        ["git", "-C", str(repo_path), "ls-tree", "-r", "-z", "-l", "--full-tree", rev],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        msg = res.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"git ls-tree {rev} failed in {repo_path}: {msg}")
    entries: list[TreeEntry] = []
    for raw in res.stdout.split(b"\0"):
        if not raw:
            continue
        meta, _, path = raw.partition(b"\t")
        mode, kind, sha, size = meta.decode("ascii").split(None, 3)
        entries.append(
            TreeEntry(
                mode=mode,
                kind=kind,
                sha=sha,
                size=int(size) if size.strip().isdigit() else None,
                # git paths are bytes; a non-UTF-8 name still needs a stable, storable key.
                path=path.decode("utf-8", "replace"),
            )
        )
    return entries


class BlobReader:
    """Reads blobs through one long-lived `git cat-file --batch` process (use as a context)."""

    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, sha: str) -> bytes:
        """The content of one blob."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "-C", str(self.repo_path), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(sha.encode("ascii") + b"\n")
            stdin.flush()
            header = stdout.readline().split()
            if len(header) < 3 or header[1] != b"blob":  # "<sha> missing"
                raise SourceError(f"git cat-file could not read blob {sha} in {self.repo_path}")
            data = stdout.read(int(header[2]))
            stdout.read(1)  # the newline after each object
            return data
        except (OSError, ValueError) as exc:
            self.close()  # a dead or confused process: the next read starts a new one
            msg = f"git cat-file failed on blob {sha} in {self.repo_path}: {exc}"
            raise SourceError(msg) from exc

    def close(self) -> None:
        """Stop the git process."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class AttributeRule:
    """One .gitattributes line reduced to the linguist attributes kb cares about."""

    regex: re.Pattern[str]
    vendored: bool | None
    generated: bool | None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style glob as a regex on repo paths (a pattern without '/' matches any depth).

    A pattern also matches everything under a directory it names, so `docs/generated`
    covers `docs/generated/a.md`.
    """
    pat = pattern.strip()
    anchored = "/" in pat.rstrip("/")
    pat = pat.strip("/")
    out = []
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif pat[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}(?:/.*)?$")


def parse_gitattributes(text: str) -> list[AttributeRule]:
    """The linguist-vendored / linguist-generated rules of a root .gitattributes."""
    rules: list[AttributeRule] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        vendored = generated = None
        for attr in parts[1:]:
            name, _, value = attr.lstrip("-!").partition("=")
            unset = attr.startswith(("-", "!")) or value.lower() in ("false", "0")
            if name == "linguist-vendored":
                vendored = not unset
            elif name == "linguist-generated":
                generated = not unset
        if vendored is not None or generated is not None:
            rules.append(AttributeRule(glob_regex(parts[0]), vendored, generated))
    return rules


def attribute_flags(rules: list[AttributeRule], path: str) -> tuple[bool, bool]:
    """(vendored, generated) for a path; later lines win, as in git."""
    vendored = generated = False
    for rule in rules:
        if rule.regex.match(path):
            if rule.vendored is not None:
                vendored = rule.vendored
            if rule.generated is not None:
                generated = rule.generated
    return vendored, generated


def skip_reason_by_path(
    path: str, size: int | None, max_file_bytes: int, rules: list[AttributeRule]
) -> str | None:
    """Why a file is skipped before reading it (vendored, lock file, ...), or None."""
    reason = exclusion_reason(path, rules)
    if reason is None and size is not None and size > max_file_bytes:
        return "too large"
    return reason


def exclusion_reason(path: str, rules: list[AttributeRule]) -> str | None:
    """vendored | lock file | generated | binary: a file that holds no team knowledge."""
    p = PurePosixPath(path)
    vendored, generated = attribute_flags(rules, path)
    if vendored or any(part in VENDORED_DIRS for part in p.parts[:-1]):
        return "vendored"
    if p.name.lower() in LOCK_FILES:
        return "lock file"
    if generated or _GENERATED_NAME.search(p.name):
        return "generated"
    if p.suffix.lower().lstrip(".") in BINARY_EXTENSIONS:
        return "binary"
    return None


def skip_reason_by_content(data: bytes) -> str | None:
    """Why a file is skipped after reading it (binary, generated header), or None."""
    if b"\0" in data[:8192]:
        return "binary"
    head = b"\n".join(data[:4096].split(b"\n")[:GENERATED_HEADER_LINES]).decode("utf-8", "replace")
    if _GENERATED_HEADER.search(head):
        return "generated"
    return None


def decode_text(data: bytes) -> tuple[str | None, str | None]:
    """(text, None) for UTF-8 content (BOM dropped), else (None, why it is not text)."""
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[skip:].decode("utf-8"), None
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        return (
            None,
            f"not UTF-8 text (invalid byte 0x{data[offset]:02x} at offset {offset}); skipped",
        )


def head_tree(repo_path: Path, head: str) -> tuple[TreeFile, ...]:
    """Every tracked file at `head`, with why knowledge analyses leave it out (if they do).

    The list is what `git ls-files` gives on a clean checkout; submodules count as vendored.
    """
    entries = list_tree(repo_path, head)
    rules: list[AttributeRule] = []
    attributes = next((e for e in entries if e.path == ".gitattributes"), None)
    if attributes is not None and attributes.kind == "blob":
        with BlobReader(repo_path) as reader:
            rules = parse_gitattributes(reader.read(attributes.sha).decode("utf-8", "replace"))
    return tuple(
        TreeFile(
            path=e.path,
            size=e.size,
            excluded="vendored" if e.mode == SUBMODULE_MODE else exclusion_reason(e.path, rules),
        )
        for e in entries
    )
