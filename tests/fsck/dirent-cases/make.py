#!/usr/bin/env python3
"""Records what the real bcachefs-tools a76f36fc6 `fsck -n` prints on each case of cases.json: the clean fixture
clean-default-64m (B1: one dirents leaf) with patch.py's steps applied in order. Writes NAME.fsck-n.txt and
NAME.fsck-n.exit here; dirent-cases.test.ts makes the same images again and compares."""
import gzip, json, os, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "..", "..", "shared")
tool = os.path.join(shared, "tools", "bcachefs-2021", "bcachefs")
base = os.path.join(shared, "fixtures", "bcachefs-2021", "clean-default-64m", "image.img.gz")

with tempfile.TemporaryDirectory() as tmp:
    for case in json.load(open(os.path.join(here, "cases.json"))):
        img = os.path.join(tmp, "image.img")
        with gzip.open(base) as src, open(img, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for step in case["steps"]:
            subprocess.run([sys.executable, os.path.join(here, "patch.py"), img] + step.split(), check=True)
        r = subprocess.run([tool, "fsck", "-n", "image.img"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        open(os.path.join(here, case["name"] + ".fsck-n.txt"), "wb").write(r.stdout)
        open(os.path.join(here, case["name"] + ".fsck-n.exit"), "w").write("%d\n" % r.returncode)
        print(case["name"], r.returncode)
