"""Every command that README.md and docs/*.md tell a user to type must parse.

The commands are read from the pages themselves (fenced and indented code blocks, and inline code
that starts with a command of ours and gives arguments), so a page that quotes a renamed flag, a
missing config or a moved module fails here by page and line. Each command runs in-process the
way the shell would start it (``python X.py`` as ``__main__``, ``python -m pkg.mod``, a ``ser-*``
console script through pyproject's entry point, the train.py arguments an ``sbatch
slurm/train.sh CONFIG ...`` line forwards) and is stopped right after its argument parser has
accepted the command line: nothing is prepared, trained or served. A parser that refuses the
command exits with status 2 and its message, and the test shows both.
"""
from __future__ import annotations

import argparse
import os
import re
import runpy
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonargparse
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OURS = re.compile(r"^(python|\.venv/bin/python|ser-[a-z-]+|sbatch|bash scripts/)")
PLACEHOLDERS = ("...", "CONFIG")  # a command's shape, not a command: "sbatch slurm/train.sh CONFIG"
SHELL_VARIABLES = {"WORK": "/scratch/user"}
SCRIPT_ARGS = {"slurm/train.sh": "train.py", "slurm/cross_validate.sh": "cross_validate.py",
               "slurm/prepare.sh": "prepare_data.py"}


@dataclass(frozen=True)
class Quoted:
    page: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every line in a fenced or indented code block, continuations joined."""
    found, fenced, joined, start = [], False, "", 0
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        indented = line.startswith("    ") and not line.lstrip().startswith(("-", "|"))
        in_list = number > 1 and lines[number - 2].strip() != "" and not lines[number - 2].startswith("    ")
        if not (fenced or (indented and not in_list)):
            continue
        code = line.strip()
        if not joined:
            start = number
        if code.endswith("\\"):
            joined += code[:-1] + " "
            continue
        found.append((start, joined + code))
        joined = ""
    return found


def has_arguments(words: list[str]) -> bool:
    """A command with arguments, not a bare name such as `python -m ensemble` or `ser-train` in prose."""
    program_words = 3 if words[1:2] == ["-m"] else 2 if words[0].endswith("python") else 1
    return len(words) > program_words


def inline_commands(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for span in re.findall(r"`([^`]+)`", line):
            if OURS.match(span) and has_arguments(shlex.split(span)):
                found.append((number, span))
    return found


def quoted_commands() -> list[Quoted]:
    commands = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for number, code in code_lines(text) + inline_commands(text):
            code = re.sub(r"\s+#\s.*$", "", code).strip()  # a trailing comment
            for part in re.split(r"\s*&&\s*", code):
                if OURS.match(part) and not any(p in part for p in PLACEHOLDERS) and checkable(part):
                    commands.append(Quoted(str(page.relative_to(ROOT)), number, part))
    return commands


def checkable(text: str) -> bool:
    """Ours to check: a script of ours, or a command that starts one (not `python - <<EOF`)."""
    return text.startswith("bash scripts/") or python_entry(shell_words(text)) is not None


class Parsed(BaseException):
    """Raised once the outermost argument parser returned: the command line was accepted."""


def stop_after_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    depth = [0]
    for cls in (argparse.ArgumentParser, jsonargparse.ArgumentParser):
        original = cls.parse_args

        def parse_args(self, *args, _original=original, **kwargs):
            depth[0] += 1
            try:
                _original(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                raise Parsed
        monkeypatch.setattr(cls, "parse_args", parse_args)


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def python_entry(words: list[str]) -> tuple[str, str, list[str]] | None:
    """(kind, target, argv) for a command of ours, or None for a shell line we do not check."""
    program, *args = words
    if program.startswith("ser-"):
        return "entry_point", console_scripts()[program], args
    if program == "sbatch":
        if "--wrap" in args:
            return python_entry(shlex.split(args[args.index("--wrap") + 1]))
        script = next((a for a in args if a.endswith(".sh")), None)
        if script is None:  # prose that names an option, e.g. "`sbatch --array` runs one fold per task"
            return None
        rest = args[args.index(script) + 1:]
        return "path", SCRIPT_ARGS[script], ["--config", rest[0], *rest[1:]]  # the script's own call
    if program in ("python", ".venv/bin/python"):
        if args[:1] == ["-m"]:
            return "module", args[1], args[2:]
        if args and args[0].endswith(".py"):
            return "path", args[0], args[1:]
    return None


def shell_words(text: str) -> list[str]:
    return shlex.split(os.path.expandvars(text.replace("$WORK", SHELL_VARIABLES["WORK"])))


COMMANDS = quoted_commands()


def test_the_pages_quote_commands() -> None:
    """The collector finds what the pages show (so the parse test below cannot pass on nothing)."""
    texts = [c.text for c in COMMANDS]
    assert len(COMMANDS) >= 40, texts
    for expected in ("python train.py --config wavlm.yaml", "python cross_validate.py", "python predict.py",
                     "python -m classical.train", "ser-train", "sbatch", "-m benchmarks.bench_input"):
        assert any(expected in t for t in texts), expected


def test_a_wrong_flag_in_a_quoted_command_is_caught(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The check can fail: a quoted command with a misspelt key does not parse."""
    with pytest.raises(SystemExit) as stopped:
        run_quoted(Quoted("README.md", 0, "python train.py --config wavlm.yaml --model.lrr=1e-5"), monkeypatch)
    assert stopped.value.code == 2


def run_quoted(command: Quoted, monkeypatch: pytest.MonkeyPatch) -> None:
    words = shell_words(command.text)
    kind, target, argv = python_entry(words)
    monkeypatch.chdir(ROOT)
    stop_after_parsing(monkeypatch)
    try:
        if kind == "entry_point":
            module, function = target.split(":")
            monkeypatch.setattr(sys, "argv", [words[0], *argv])
            getattr(__import__(module, fromlist=[function]), function)()
        elif kind == "module":
            monkeypatch.setattr(sys, "argv", [target, *argv])
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            monkeypatch.setattr(sys, "argv", [target, *argv])
            runpy.run_path(str(ROOT / target), run_name="__main__")
    except Parsed:
        return
    except SystemExit as stopped:
        if stopped.code not in (0, None):  # --print_config and --help end with 0 after parsing
            raise
        return
    raise AssertionError(f"{command}: the command ran to its end without parsing arguments")


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_quoted_command_parses(command: Quoted, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    if command.text.startswith("bash scripts/"):
        script = ROOT / shell_words(command.text)[1]
        assert script.is_file(), f"{command}: no such script"
        checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{command}: {checked.stderr}"
        return
    try:
        run_quoted(command, monkeypatch)
    except SystemExit as stopped:
        pytest.fail(f"{command}\nexit status {stopped.code}: {capsys.readouterr().err.strip()[-2000:]}")
