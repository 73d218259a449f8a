"""Builds rat's container images offline, with no base image: a root
filesystem holding exactly the binaries, the shared libraries they load
(their ELF closure, found with ldd), DuckDB's httpfs extension, CA
certificates, a non-root user, and (runner, with --python) a Python with
pyarrow and duckdb; then an OCI image layout (one uncompressed layer, a
config, a manifest) that skopeo, podman or buildah push as it is:

    skopeo copy oci:target/images/rat-runner:0.1.0 docker://ACCOUNT.dkr.ecr.REGION.amazonaws.com/rat-runner:0.1.0

Every file of the layer is scanned for secrets before the image is
written (AWS keys, private keys, and the values --forbid names); one found
fails the build. The Containerfiles beside this script describe the same
images for builders that have a base-free `COPY` (docker, buildah).

usage: build.py {runner,server} --binaries DIR --duckdb-lib FILE
                --extensions DIR --out DIR [--python VENV] [--tag TAG]
                [--forbid VALUE]... [--rootfs DIR]
Prints the image's summary as JSON (path, digest, size, files).
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

USER = 10001
PYTHON_PACKAGES = ["duckdb", "pyarrow", "numpy", "pandas", "python_dateutil", "pytz", "tzdata", "six"]
EXTENSIONS = "/usr/local/lib/rat/duckdb-extensions"


def elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def dependencies(path):
    """The shared libraries `path` loads, as (name, host path), by ldd."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    found = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, rest = line.split("=>", 1)
            target = rest.strip().split(" (")[0].strip()
            if target == "not found" or not target:
                raise SystemExit(f"build.py: {path} needs {name.strip()}, which ldd cannot find")
            found.append((name.strip(), target))
        elif line.startswith("/"):
            found.append((os.path.basename(line.split(" (")[0]), line.split(" (")[0]))
    return found


class Rootfs:
    def __init__(self, root):
        self.root = root
        self.sources = []  # host trees copied whole: their libraries come along

    def path(self, inside):
        return os.path.join(self.root, inside.lstrip("/"))

    def copy(self, source, inside, strip=False):
        target = self.path(inside)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
        shutil.copymode(source, target)
        if strip and elf(target):
            subprocess.run(["strip", "--strip-debug", target], check=True)
        return target

    def tree(self, source, inside, skip=lambda rel: False):
        self.sources.append(os.path.realpath(source))
        for folder, dirs, files in os.walk(source):
            rel_folder = os.path.relpath(folder, source)
            dirs[:] = [d for d in dirs if not skip(os.path.normpath(os.path.join(rel_folder, d)))]
            for name in files:
                rel = os.path.normpath(os.path.join(rel_folder, name))
                if not skip(rel):
                    src = os.path.join(folder, name)
                    if os.path.isfile(src):
                        self.copy(src, os.path.join(inside, rel))

    def write(self, inside, text, mode=0o644):
        target = self.path(inside)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
        os.chmod(target, mode)

    def libraries(self):
        """Copies every library an ELF file of the tree loads: system ones
        to their own path, others (libpython) to /usr/lib, which the
        loader searches without LD_LIBRARY_PATH (runners start Python with
        a cleared environment); again for what those load."""
        done = set()
        while True:
            added = False
            for folder, _, files in os.walk(self.root):
                for name in files:
                    path = os.path.join(folder, name)
                    if path in done or os.path.islink(path) or not elf(path):
                        continue
                    done.add(path)
                    for lib, host in dependencies(path):
                        real = os.path.realpath(host)
                        # Already in the image: found through the file's own
                        # RPATH ($ORIGIN: pyarrow's, numpy's bundled libraries),
                        # or part of a tree copied whole.
                        inside_root = real.startswith(os.path.realpath(self.root) + os.sep)
                        if inside_root or any(real.startswith(s + os.sep) for s in self.sources):
                            continue
                        system = host.startswith(("/lib", "/usr/lib", "/lib64"))
                        inside = host if system else os.path.join("/usr/lib", lib)
                        if not os.path.exists(self.path(inside)):
                            self.copy(real, inside)
                            added = True
            if not added:
                return


def python_into(rootfs, venv):
    """The venv's interpreter, its standard library and the packages
    Python pipelines use, under /opt/python."""
    python = os.path.join(venv, "bin", "python")
    info = json.loads(subprocess.run([python, "-c", (
        "import json, sys, sysconfig, site;"
        "print(json.dumps({'exe': sys._base_executable, 'stdlib': sysconfig.get_paths()['stdlib'],"
        "'version': f'{sys.version_info[0]}.{sys.version_info[1]}', 'site': site.getsitepackages()[0]}))")],
        capture_output=True, text=True, check=True).stdout)
    version = info["version"]
    rootfs.copy(os.path.realpath(info["exe"]), f"/opt/python/bin/python{version}")
    os.symlink(f"python{version}", rootfs.path("/opt/python/bin/python3"))
    unwanted = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages"}
    rootfs.tree(info["stdlib"], f"/opt/python/lib/python{version}",
                skip=lambda rel: rel.split(os.sep)[0] in unwanted or rel.startswith("config-"))
    site = info["site"]
    target = f"/opt/python/lib/python{version}/site-packages"
    rootfs.sources.append(os.path.realpath(site))
    for entry in os.listdir(site):
        if not entry.endswith(".dist-info"):
            continue
        project = entry.split("-")[0].lower()
        if project not in PYTHON_PACKAGES:
            continue
        with open(os.path.join(site, entry, "RECORD")) as f:
            for row in f:
                rel = row.split(",")[0]
                src = os.path.normpath(os.path.join(site, rel))
                if src.startswith(os.path.realpath(site)) and os.path.isfile(src) and "__pycache__" not in rel:
                    rootfs.copy(src, os.path.join(target, rel))
    return version


SECRET_PATTERNS = [
    re.compile(rb"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    # A key block with its base64 body (parsers hold the bare header text).
    re.compile(rb"-----BEGIN (RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/]{40,}"),
]


def scan(root, forbidden):
    """Paths holding something secret, with what was found."""
    found = []
    needles = [v.encode() for v in forbidden if v]
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for pattern in SECRET_PATTERNS:
                match = pattern.search(data)
                if match:
                    found.append((os.path.relpath(path, root), match.group(0)[:12].decode() + "..."))
            for needle in needles:
                if needle in data:
                    found.append((os.path.relpath(path, root), "a --forbid value"))
    return found


def layer(root):
    """The rootfs as one deterministic tar: sorted, mtime 0, owned by root
    except the folders the non-root user writes."""
    buffer = io.BytesIO()
    writable = {"tmp", "var/lib/rat"}
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = []
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                entries.append(os.path.relpath(os.path.join(folder, name), root))
        for rel in sorted(entries):
            info = tar.gettarinfo(os.path.join(root, rel), arcname=rel)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if rel in writable:
                info.uid = info.gid = USER
                info.mode = 0o1777 if rel == "tmp" else 0o755
            if info.isfile():
                with open(os.path.join(root, rel), "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", choices=["runner", "server"])
    parser.add_argument("--binaries", required=True)
    parser.add_argument("--duckdb-lib", required=True)
    parser.add_argument("--extensions", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--python")
    parser.add_argument("--tag", default="dev")
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--rootfs", help="also leave the root filesystem here (the build context of Containerfile.IMAGE)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="rat-image-")
    root = os.path.join(work, "rootfs")
    os.makedirs(root)
    rootfs = Rootfs(root)
    binaries = {"runner": ["rat-runner", "rat-aws-credentials"], "server": ["rat", "rat-aws-credentials"]}[args.image]
    for name in binaries:
        rootfs.copy(os.path.join(args.binaries, name), f"/usr/local/bin/{name}", strip=True)
    rootfs.copy(args.duckdb_lib, "/usr/lib/libduckdb.so")
    rootfs.tree(args.extensions, EXTENSIONS)
    env = {
        "PATH": "/usr/local/bin",
        "RAT_DUCKDB_EXTENSION_DIR": EXTENSIONS,
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
    }
    if args.python and args.image == "runner":
        python_into(rootfs, args.python)
        env["PATH"] = "/usr/local/bin:/opt/python/bin"
        # It finds its standard library from its own path (no PYTHONHOME:
        # runners start it with a cleared environment).
        env["RAT_PYTHON"] = "/opt/python/bin/python3"
    rootfs.libraries()
    rootfs.write("/etc/passwd", f"root:x:0:0:root:/:/sbin/nologin\nrat:x:{USER}:{USER}:rat:/tmp:/sbin/nologin\n")
    rootfs.write("/etc/group", f"root:x:0:\nrat:x:{USER}:\n")
    rootfs.copy("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt")
    os.makedirs(rootfs.path("/tmp"))
    # Where container runtimes mount their own.
    for folder in ["/dev", "/proc", "/sys"]:
        os.makedirs(rootfs.path(folder))
    if args.image == "server":
        os.makedirs(rootfs.path("/var/lib/rat"))
        env["RAT_PROJECT"] = "/var/lib/rat"

    secrets = scan(root, args.forbid)
    if secrets:
        for path, what in secrets:
            print(f"build.py: {path}: {what}", file=sys.stderr)
        raise SystemExit("build.py: refusing to write an image holding secrets")

    data = layer(root)
    os.makedirs(args.out, exist_ok=True)
    layer_desc = blob(args.out, data)
    entrypoint = {"runner": ["/usr/local/bin/rat-runner"], "server": ["/usr/local/bin/rat"]}[args.image]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": f"{USER}:{USER}",
            "Env": [f"{k}={v}" for k, v in env.items()],
            "Entrypoint": entrypoint,
            "Cmd": ["serve"] if args.image == "server" else [],
            "WorkingDir": "/var/lib/rat" if args.image == "server" else "/tmp",
            "ExposedPorts": {"8080/tcp": {}} if args.image == "server" else {},
            "Volumes": {"/tmp": {}, **({"/var/lib/rat": {}} if args.image == "server" else {})},
            "Labels": {"org.opencontainers.image.title": f"rat-{args.image}" if args.image == "runner" else "rat",
                       "org.opencontainers.image.version": args.tag},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        "history": [{"created_by": f"deploy/images/build.py {args.image}"}],
    }
    config_desc = blob(args.out, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_desc}],
    }
    manifest_desc = blob(args.out, json.dumps(manifest, sort_keys=True).encode())
    with open(os.path.join(args.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest_desc,
            "annotations": {"org.opencontainers.image.ref.name": args.tag}}]}, f)
    files = sum(len(f) for _, _, f in os.walk(root))
    if args.rootfs:
        shutil.rmtree(args.rootfs, ignore_errors=True)
        shutil.move(root, args.rootfs)
    shutil.rmtree(work, ignore_errors=True)
    json.dump({"image": args.image, "layout": args.out, "tag": args.tag, "manifest": manifest_desc["digest"],
               "layer_bytes": layer_desc["size"], "files": files}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
