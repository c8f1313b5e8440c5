"""``stresstrack mqtt keys|acl``: message keys and broker accounts of a study (docs/mqtt.md).

``keys`` writes (or completes) a key file with a random key per participant of the study
file; ``acl`` writes a Mosquitto password file, an ACL file and one password file per account.
Secrets go to owner-only (0600) files only, never to the terminal.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from stresstrack.errors import StressTrackError

NAME = "mqtt"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="message keys and broker accounts for authenticated publishers",
        description="Authenticated publishers (docs/mqtt.md): per-participant message keys "
        "checked by the pipeline workers, and per-collector Mosquitto accounts and ACLs.",
    )
    what = p.add_subparsers(dest="mqtt_command", required=True, metavar="WHAT")
    k = what.add_parser(
        "keys",
        help="write a key file: a random key per participant of the study",
        description="Write FILE (mode 0600) with a random HMAC-SHA256 key per participant of "
        "the study file. An existing FILE keeps its keys; participants without one get one. "
        "Give the workers the whole file and each collector a copy (--mqtt-keys FILE).",
    )
    k.add_argument("--study", type=Path, required=True, metavar="FILE", help="the study file")
    k.add_argument("--out", type=Path, required=True, metavar="FILE", help="the key file")
    a = what.add_parser(
        "acl",
        help="write Mosquitto accounts: a password file, an ACL file, one password per account",
        description="Write into DIR: `passwd` (Mosquitto's password_file, PBKDF2-SHA512 "
        "hashes), `acl` (its acl_file: each collector may publish only its participants' "
        "topics, the worker account only read events) and `<user>.password` per account (for "
        "--mqtt-password-file). All files 0600. Refuses to replace an existing DIR/passwd "
        "without --force (that changes every password).",
    )
    a.add_argument("--study", type=Path, required=True, metavar="FILE", help="the study file")
    a.add_argument("--out", type=Path, required=True, metavar="DIR", help="the output folder")
    a.add_argument("--force", action="store_true", help="replace existing accounts")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.session.study import load_study
    from stresstrack.transport import auth

    study = load_study(args.study)
    if not study.participants:
        raise StressTrackError(f"{args.study}: no participants listed")
    if args.mqtt_command == "keys":
        out: Path = args.out
        have = auth.read_keys(out, "message key file to update") if out.exists() else {}
        keys = auth.new_keys(study.participants, have)
        auth.write_keys(out, keys)
        print(f"{out}: {len(keys)} keys ({len(keys) - len(have)} new), mode 0600")
        return 0
    folder: Path = args.out
    if (folder / "passwd").exists() and not args.force:
        raise StressTrackError(f"{folder / 'passwd'} exists: add --force to replace every account")
    from stresstrack.files import write_private

    accounts = auth.broker_accounts(study)
    lines = []
    for account in accounts:
        password = secrets.token_urlsafe(24)
        write_private(folder / f"{account.user}.password", password + "\n")
        lines.append(auth.password_line(account.user, password))
    write_private(folder / "passwd", "\n".join(lines) + "\n")
    write_private(folder / "acl", auth.render_acl(accounts))
    users = ", ".join(a.user for a in accounts)
    print(f"{folder}: passwd, acl and {len(accounts)} password files (accounts: {users})")
    return 0
