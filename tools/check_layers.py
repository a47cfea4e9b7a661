#!/usr/bin/env python3
"""Checks the module layering of src/ (docs/ARCHITECTURE.md, "Layering").

* A module may include only itself and the modules listed for it below.
* Third-party headers are confined to the module that owns them.
* Every *_test.cc under src/ is built by some CMakeLists.txt.
Exits 1 and lists every violation found.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

# module -> modules it may include (besides itself)
ALLOWED = {
    "base": set(),
    "crypto": {"base"},
    "http": {"base"},
    "format": {"crypto", "base"},
    "storage": {"base"},
    "catalog": {"base"},
    "aws": {"crypto", "base"},
    "keys": {"catalog", "format", "crypto", "base"},
    "objects": {"format", "keys", "storage", "catalog", "aws", "crypto", "base"},
    "s3": {"objects", "aws", "http", "keys", "catalog", "crypto", "base"},
    "testing": {"base", "crypto", "format", "storage", "catalog"},
    # composition roots
    "server": {"s3", "objects", "http", "keys", "catalog", "storage", "aws", "format", "crypto",
               "base"},
    "cli": {"server", "format", "crypto", "base"},
}

# Implementation subfolders only composition roots may include.
IMPLEMENTATIONS = ("keys/hierarchy/", "keys/passphrase/", "keys/local/", "keys/kmip/",
                   "keys/pkcs11/", "keys/tpm/", "keys/shamir/", "keys/audit/", "keys/provider_root/", "storage/local/",
                   "storage/memory/", "catalog/sqlite/")
ROOTS = {"server", "cli"}

# header prefix -> the only modules that may include it
THIRD_PARTY = {
    "openssl/": {"crypto"},
    "argon2.h": {"crypto"},
    "sqlite3.h": {"catalog"},
    "tss2/": {"keys"},
    "p11-kit/": {"keys"},
    "boost/": {"http"},
    "CLI/": {"cli"},
    "pugixml": {"s3"},
    "toml++/": {"server"},
    "zlib.h": {"testing"},
    "gtest/": {"testing", "*test"},
    "gmock/": {"testing", "*test"},
    "nlohmann/": {"testing", "*test"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def main() -> int:
    problems = []
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        rel = path.relative_to(SRC)
        module = rel.parts[0]
        is_test = path.stem.endswith(("_test", "_test_suite", "_test_util"))
        if module not in ALLOWED:
            problems.append(f"{rel}: module '{module}' is not in tools/check_layers.py")
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, target = m.groups()
            if kind == '"':
                if ".." in target.split("/"):
                    problems.append(f"{rel}:{lineno}: relative include '{target}'")
                    continue
                dep = target.split("/")[0]
                # Tests may also use the test helpers and the crypto module
                # (e.g. to make a TLS certificate for an http/ test).
                if dep == module or (is_test and dep in ("testing", "crypto")):
                    continue
                if dep not in ALLOWED.get(module, set()):
                    problems.append(f"{rel}:{lineno}: {module}/ may not include {target}")
                elif (target.startswith(IMPLEMENTATIONS) and module not in ROOTS
                      and not is_test and not str(rel).startswith(target.rsplit("/", 2)[0])):
                    problems.append(f"{rel}:{lineno}: only server/ and cli/ include "
                                    f"implementations ({target})")
            else:
                for prefix, owners in THIRD_PARTY.items():
                    if target.startswith(prefix):
                        if module in owners or (is_test and "*test" in owners):
                            break
                        problems.append(f"{rel}:{lineno}: <{target}> is confined to "
                                        f"{', '.join(sorted(o for o in owners if o != '*test'))}/")
                        break

    cmake_text = "\n".join(p.read_text() for p in ROOT.rglob("CMakeLists.txt")
                           if "build" not in p.relative_to(ROOT).parts[0])
    for test in sorted(SRC.rglob("*_test.cc")):
        if test.name not in cmake_text:
            problems.append(f"{test.relative_to(ROOT)}: no CMakeLists.txt builds this test")

    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
