#!/usr/bin/env python3
"""Renders the packaged configuration file and man page from the opfleet binary itself.

  opfleet_docs.py conf BINARY > opfleet.conf        /etc/opfleet/opfleet.conf
  opfleet_docs.py check-conf BINARY FILE            is FILE real, complete configuration?
  opfleet_docs.py man BINARY MAN_IN > opfleet.1     the man page, opfleet(1)

Both documents describe every option of every command. Written by hand they would drift
from the code as options come and go, so they are rendered at package time from what the
binary says: `opfleet --help` (the commands), `opfleet CMD --help` (usage, summary, each
option's argument and help text) and `opfleet config show --for CMD` (each option's key
and effective default, read in a clean environment).

`check-conf` proves a rendered file is real configuration: it must be what this binary
renders, document exactly the keys the binary has, and with every key uncommented (each
set to its documented default) `opfleet config show --config FILE --for CMD` must accept
it for every command, so an unknown key or a default that is not a valid value fails the
check. (A key without a default that refuses the empty value is commented out again: the
refusal names it as an option.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field

# Commands whose options do not belong in a host's configuration file: `version` has
# none, and `config` only names the file (a file cannot name another file).
SKIPPED_COMMANDS = {"version", "config"}
# Options that cannot appear in the file at all.
SKIPPED_KEYS = {"help", "config"}
HELP_INDENT_MIN = 20  # a continuation line of an option's help is indented at least this far


@dataclass
class Option:
    key: str
    arg: str  # the value's name in --help ("N", "URL"), "" for a flag
    default: str  # as the file spells it ("" = empty)
    required: bool
    help: str
    commands: list[str] = field(default_factory=list)


@dataclass
class Command:
    name: str
    summary: str  # one line, from `opfleet --help`
    usage: str  # "opfleet supervise --instance NAME ..."
    description: str  # the paragraph(s) between the usage line and the options
    groups: list[tuple[str, list[Option]]]  # (group title, options) as --help lists them
    options: dict[str, Option]  # key -> option, for the file (SKIPPED_KEYS left out)


def run(binary: str, *args: str) -> str:
    # A clean environment: OPFLEET_* or AWS_REGION set in the caller's shell would show up
    # as "defaults" otherwise.
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    proc = subprocess.run([binary, *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"opfleet_docs: `{binary} {' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def command_list(binary: str) -> list[tuple[str, str]]:
    """(name, summary) of each command listed under 'commands:' by `opfleet --help`."""
    found: list[tuple[str, str]] = []
    in_list = False
    for line in run(binary, "--help").splitlines():
        if line.strip() == "commands:":
            in_list = True
            continue
        if in_list:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s+(.*)$", line)
            if not m:
                break
            found.append((m.group(1), m.group(2).strip()))
    if not found:
        sys.exit("opfleet_docs: no commands found in `opfleet --help`")
    return found


# One option as --help shows it, without its help text: "--key", "--key ARG",
# "--key ARG (=default)", "-h [ --help ]".
OPTION = re.compile(r"^(?:-\w \[ )?--(?P<key>[a-z0-9][a-z0-9-]*)(?: \])?(?: (?P<arg>[^ (]\S*))?(?: \(=(?P<default>.*)\))?$")
GROUP_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9/ _()-]*) options:$")
DEFAULT_HELP_COLUMN = 40  # Boost.ProgramOptions' default: half of an 80-column line


def help_column(lines: list[str]) -> int:
    """Where help texts start: Boost aligns them (and their continuation lines) in one
    column, so the left part of an option line may fill it up to a single space."""
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.startswith(" " * HELP_INDENT_MIN) and line.strip()]
    return min(indents) if indents else DEFAULT_HELP_COLUMN


def option_line(line: str, column: int):
    """(key, arg, default, help) if the line starts an option, else None."""
    if not line.startswith("  -"):
        return None
    if len(line) > column and line[column - 1] == " " and line[column] != " ":
        left, text = line[:column].strip(), line[column:].strip()
    else:
        left, text = line.strip(), ""  # the help starts on the next line
    m = OPTION.match(left)
    if not m:
        return None
    return m.group("key"), m.group("arg") or "", m.group("default") or "", text


def parse_help(binary: str, name: str, summary: str) -> Command:
    lines = run(binary, name, "--help").splitlines()
    if not lines or not lines[0].startswith("usage: "):
        sys.exit(f"opfleet_docs: `opfleet {name} --help` does not start with a usage line")
    column = help_column(lines)
    usage = lines[0][len("usage: ") :].strip()
    # Continued usage lines ("       opfleet scale --dry-run ...") belong to the synopsis.
    i = 1
    while i < len(lines) and lines[i].startswith("       opfleet "):
        usage += "\n" + lines[i].strip()
        i += 1
    description: list[str] = []
    groups: list[tuple[str, list[Option]]] = []
    current: Option | None = None
    # The description: the text up to the first option or group title.
    while i < len(lines) and not (option_line(lines[i], column) or GROUP_LINE.match(lines[i])):
        description.append(lines[i])
        i += 1
    for line in lines[i:]:
        g = GROUP_LINE.match(line)
        o = option_line(line, column)
        if g:
            groups.append((g.group(1), []))
            current = None
        elif o:
            if not groups:
                groups.append((name, []))
            key, arg, default, text = o
            current = Option(key, arg, default, False, text, [name])
            groups[-1][1].append(current)
        elif current is not None and line.startswith(" " * HELP_INDENT_MIN) and line.strip():
            current.help = f"{current.help} {line.strip()}".strip()
        else:
            current = None  # a blank line or the closing paragraph
    text = " ".join(" ".join(description).split())
    return Command(name, summary, usage, text, groups, {})


def effective_defaults(binary: str, command: str) -> list[tuple[str, str, bool]]:
    """(key, default, required) per option, from `opfleet config show --for COMMAND`."""
    out = run(binary, "config", "show", "--for", command, "--config", "/dev/null")
    lines = out.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("KEY ")), None)
    if header is None:
        sys.exit(f"opfleet_docs: no table in `opfleet config show --for {command}`")
    value_col = lines[header].index("VALUE")
    source_col = lines[header].index("SOURCE")
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            continue
        key = line[:value_col].strip()
        value = line[value_col:source_col].strip()
        required = value.startswith("(not set")
        if required or value == '""':
            value = ""
        rows.append((key, value, required))
    return rows


def collect(binary: str, with_config_show: bool = True) -> list[Command]:
    commands = []
    for name, summary in command_list(binary):
        command = parse_help(binary, name, summary)
        if with_config_show and name not in SKIPPED_COMMANDS:
            by_key = {o.key: o for _, options in command.groups for o in options}
            for key, default, required in effective_defaults(binary, name):
                if key in SKIPPED_KEYS:
                    continue
                if key not in by_key:
                    sys.exit(f"opfleet_docs: `opfleet {name} --help` does not document --{key}")
                option = by_key[key]
                option.default, option.required = default, required
                command.options[key] = option
        commands.append(command)
    return commands


# ---- The configuration file ----------------------------------------------------------------


def split_shared(commands: list[Command]):
    """Options that several commands share with the same default and help go to the top
    level once (the file applies a top-level key to every command that has the option);
    the others go to their command's [section]."""
    seen: dict[str, list[Option]] = {}
    for command in commands:
        for option in command.options.values():
            seen.setdefault(option.key, []).append(option)
    shared: dict[str, Option] = {}
    for key, options in seen.items():
        first = options[0]
        if len(options) > 1 and all(
            (o.default, o.required, o.help) == (first.default, first.required, first.help) for o in options
        ):
            shared[key] = Option(key, first.arg, first.default, first.required, first.help,
                                 [o.commands[0] for o in options])
    sections = {c.name: [o for o in c.options.values() if o.key not in shared] for c in commands}
    return shared, sections


def comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=88, initial_indent="# ", subsequent_indent="# ",
                         break_on_hyphens=False, break_long_words=False) or ["#"]


def render_option(option: Option, show_users: bool) -> list[str]:
    lines = comment(f"{option.key}: {option.help}")
    if option.required and "required" not in option.help:
        lines += comment("Required by the commands that use it; no default.")
    if show_users:
        lines += comment(f"Used by: {', '.join(option.commands)}.")
    lines.append(f"#{option.key} = {option.default}".rstrip())
    return lines


def render_conf(binary: str) -> str:
    commands = [c for c in collect(binary) if c.name not in SKIPPED_COMMANDS]
    order = [c.name for c in commands]
    shared, sections = split_shared(commands)
    version = run(binary, "version").strip()
    out = [
        "# /etc/opfleet/opfleet.conf: configuration of every opfleet command on this host.",
        f"# Rendered from {version} by packaging/render/opfleet_docs.py; see opfleet(1) and",
        "# /usr/share/doc/opfleet/configuration.md.gz.",
        "#",
        "# Each option's value comes from, highest first: its command-line flag, then its",
        "# environment variable (--foo-bar is OPFLEET_FOO_BAR), then this file, then the",
        "# default shown here. Every key below is commented out with its default; uncomment",
        "# and change the ones you need. `opfleet config show --for COMMAND` prints what a",
        "# command will use and where each value came from.",
        "#",
        "# Syntax: `key = value` (the value is everything after the first '=', so it may hold",
        "# '#', ';' or '='); whole-line comments start with '#' or ';'. Keys before the first",
        "# [section] apply to every command that has the option; a key in [COMMAND] applies",
        "# to that command only and wins over the top level. Unknown keys are errors.",
        "#",
        "# Under systemd, opfleet-supervisor@.service passes --drain-timeout-s on its command",
        "# line (next to TimeoutStopSec, which must exceed it), so drain-timeout-s here does",
        "# not apply to it: change both with `systemctl edit opfleet-supervisor@NAME`.",
        "#",
        "# The file may hold the database password: the package keeps it readable by root and",
        "# the opfleet group only (mode 0640, root:opfleet, a dpkg-statoverride).",
        "",
        "# ---- Options shared by several commands " + "-" * 47,
        "",
    ]
    for key in sorted(shared, key=lambda k: min(order.index(c) for c in shared[k].commands)):
        out += render_option(shared[key], show_users=True) + [""]
    for name in order:
        if not sections[name]:
            continue
        out += [f"# ---- opfleet {name} ".ljust(88, "-"), f"[{name}]", ""]
        for option in sections[name]:
            out += render_option(option, show_users=False) + [""]
    return "\n".join(out).rstrip() + "\n"


def uncommented(text: str, keep_commented: set[str]) -> str:
    """Every `#key = default` line made live, except the keys in keep_commented."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^#([a-z0-9][a-z0-9-]*) =", line)
        if m and m.group(1) not in keep_commented:
            line = line[1:]
        out.append(line)
    return "\n".join(out) + "\n"


EMPTY_REFUSED = re.compile(r"invalid value '' for --([a-z0-9-]+)")


def check_conf(binary: str, path: str) -> int:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text != render_conf(binary):
        print(f"opfleet_docs: {path} differs from what {binary} renders", file=sys.stderr)
        return 1
    commands = [c for c in collect(binary) if c.name not in SKIPPED_COMMANDS]
    documented = set(re.findall(r"^#([a-z0-9][a-z0-9-]*) =", text, flags=re.M))
    wanted = {key for c in commands for key in c.options}
    if documented != wanted:
        print(f"opfleet_docs: documented keys differ: missing {sorted(wanted - documented)}, "
              f"extra {sorted(documented - wanted)}", file=sys.stderr)
        return 1
    # Uncomment every key. A key without a default (shown as `key =`) may refuse the
    # empty value, as `--workers` of `scale` must: that refusal names it as an option,
    # so it is known; it goes back to a comment and the file is tried again. Any other
    # refusal (an unknown key, a default that is not a valid value) fails the check.
    no_default = {o.key for c in commands for o in c.options.values() if o.default == ""}
    keep_commented: set[str] = set()
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    for _ in range(len(documented) + 1):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as tmp:
            tmp.write(uncommented(text, keep_commented))
        try:
            refused = None
            for c in commands:
                proc = subprocess.run([binary, "config", "show", "--for", c.name, "--config", tmp.name],
                                      env=env, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    refused = (c.name, proc.stderr.strip())
                    break
        finally:
            os.unlink(tmp.name)
        if refused is None:
            print(f"opfleet_docs: {path}: {len(documented)} keys of {len(commands)} commands documented; "
                  f"every command accepts them uncommented ({len(keep_commented)} without a default "
                  "refuse an empty value)")
            return 0
        m = EMPTY_REFUSED.search(refused[1])
        if not m or m.group(1) not in no_default or m.group(1) in keep_commented:
            print(f"opfleet_docs: `opfleet config show --for {refused[0]}` rejects the uncommented file: "
                  f"{refused[1]}", file=sys.stderr)
            return 1
        keep_commented.add(m.group(1))
    return 1


# ---- The man page ------------------------------------------------------------------------------


def roff(text: str) -> str:
    """Text made safe for a roff line: backslashes and dashes escaped, no leading control
    character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def render_man(binary: str, template_path: str) -> str:
    commands = collect(binary, with_config_show=False)
    version = run(binary, "version").strip()
    body: list[str] = []
    for c in commands:
        body.append(".SS " + roff(c.name))
        for synopsis in c.usage.splitlines():
            body += [".B " + roff(synopsis), ".br"]
        body.append(".PP")
        body.append(roff(c.description or c.summary))
        for title, options in c.groups:
            if title == "general":
                continue  # the same for every command: described once, under OPTIONS
            for o in options:
                flag = "\\fB\\-\\-" + roff(o.key) + "\\fR"
                if o.arg:
                    flag += " \\fI" + roff(o.arg) + "\\fR"
                text = o.help + (f" (default: {o.default})" if o.default else "")
                body += [".TP", flag, roff(text)]
    command_table: list[str] = []
    for c in commands:
        command_table += [".TP", "\\fB" + roff(c.name) + "\\fR", roff(c.summary)]
    with open(template_path, encoding="utf-8") as f:
        template = f.read()
    # The page's date is the release's (dpkg-buildpackage exports the changelog date as
    # SOURCE_DATE_EPOCH), so the same source renders the same page.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch)) if epoch else ""
    return (
        template.replace("@VERSION@", roff(version.split()[-1]))
        .replace("@DATE@", date)
        .replace("@COMMAND_TABLE@", "\n".join(command_table))
        .replace("@COMMANDS@", "\n".join(body))
    )


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "conf":
        sys.stdout.write(render_conf(argv[2]))
        return 0
    if len(argv) == 4 and argv[1] == "check-conf":
        return check_conf(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "man":
        sys.stdout.write(render_man(argv[2], argv[3]))
        return 0
    print("usage: opfleet_docs.py conf BINARY | check-conf BINARY FILE | man BINARY TEMPLATE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
