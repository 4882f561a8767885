"""Compares the field ids Apache's compiler (`thrift --gen py`) and `tether gen` give every
struct, union, exception and method argument/result struct of the same IDL.

    python3 field_ids.py PY_DIR RUST_DIR

Each subdirectory of PY_DIR holds `thrift --gen py` output for one IDL file, the one of the
same name in RUST_DIR `tether gen` output for it. Every class Python's code writes must have a
Rust struct of the same name with the same (field name, id) pairs. Prints the count checked;
exits 1 on any difference.
"""

import os
import re
import sys


def norm(name):
    """Names compared across the two generators: case and underscores dropped (Rust makes
    `userId` `user_id`, `type` `r#type`, `self` `self_`, a service method's args
    `ServiceMethodArgs`)."""
    return name.replace("r#", "").replace("_", "").lower()


def python_structs(root):
    """{normalised class name: sorted [(normalised field name, id)]} for every class with a
    write() method; service classes are prefixed with their service (the file name)."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".py") or file in ("__init__.py", "constants.py"):
                continue
            text = open(os.path.join(dirpath, file)).read()
            prefix = "" if file == "ttypes.py" else file[: -len(".py")]
            for match in re.finditer(r"^class (\w+)\((?:object|TException)\):", text, re.M):
                end = text.find("\nclass ", match.end())
                body = text[match.end() : end if end >= 0 else len(text)]
                if "def write(self, oprot)" not in body:
                    continue
                fields = re.findall(r"oprot\.writeFieldBegin\('(\w+)', TType\.\w+, (-?\d+)\)", body)
                key = norm(prefix + match.group(1))
                found.setdefault(key, []).extend((norm(n), int(i)) for n, i in fields)
    return {k: sorted(v) for k, v in found.items()}


def rust_structs(root):
    """{normalised type name: sorted [(normalised field name, id)]} from every
    `impl protocol::Encode for Name` in the generated Rust."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".rs"):
                continue
            text = open(os.path.join(dirpath, file)).read()
            for match in re.finditer(r"impl protocol::Encode for (\w+) \{", text):
                depth, i = 1, match.end()
                while depth and i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                body = " ".join(text[match.end() : i].split())
                fields = re.findall(
                    r"w\.write_(?:optional_)?field\((-?\d+), &self\.((?:r#)?\w+)\)", body
                )
                pairs = [(norm(n), int(i)) for i, n in fields]
                variants = re.findall(
                    r"\w+::(\w+)\(value\) => w\.write_field\((-?\d+), value\)", body
                )
                pairs += [(norm(v), int(i)) for v, i in variants]
                found.setdefault(norm(match.group(1)), []).extend(pairs)
    return {k: sorted(v) for k, v in found.items()}


def main():
    py_root, rust_root = sys.argv[1], sys.argv[2]
    structs = fields = 0
    failures = []
    for idl in sorted(os.listdir(py_root)):
        python = python_structs(os.path.join(py_root, idl))
        rust = rust_structs(os.path.join(rust_root, idl))
        for name, expected in sorted(python.items()):
            actual = rust.get(name)
            if actual is None:
                failures.append(f"{idl}/{name}: no Rust struct")
            elif actual != expected:
                failures.append(f"{idl}/{name}: thrift {expected} != tether {actual}")
            else:
                structs += 1
                fields += len(expected)
    for failure in failures:
        print("field_ids: MISMATCH " + failure)
    print(f"field_ids: {structs} structs, {fields} fields agree")
    sys.exit(1 if failures or structs == 0 else 0)


if __name__ == "__main__":
    main()
