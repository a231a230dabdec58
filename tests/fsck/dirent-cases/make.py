#!/usr/bin/env python3
"""Records what the real bcachefs-tools a76f36fc6 `fsck -n` prints on each case of cases.json: a clean fixture
(`base`, default clean-default-64m, B1: one dirents leaf) with the steps applied in order ("inject ARGS":
../shared/tools/inject.py inject IMG ARGS; otherwise patch.py IMG ARGS). Writes NAME.fsck-n.txt and
NAME.fsck-n.exit here; dirent-cases.test.ts makes the same images again and compares."""
import gzip, json, os, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "..", "..", "shared")
tool = os.path.join(shared, "tools", "bcachefs-2021", "bcachefs")

with tempfile.TemporaryDirectory() as tmp:
    for case in json.load(open(os.path.join(here, "cases.json"))):
        img = os.path.join(tmp, "image.img")
        base = os.path.join(shared, "fixtures", "bcachefs-2021", case.get("base", "clean-default-64m"), "image.img.gz")
        with gzip.open(base) as src, open(img, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for step in case["steps"]:
            args = step.split()
            if args[0] == "inject":
                cmd = [os.path.join(shared, "tools", "inject.py"), "inject", img] + args[1:]
            else:
                cmd = [os.path.join(here, "patch.py"), img] + args
            subprocess.run([sys.executable] + cmd, check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run([tool, "fsck", "-n", "image.img"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        open(os.path.join(here, case["name"] + ".fsck-n.txt"), "wb").write(r.stdout)
        open(os.path.join(here, case["name"] + ".fsck-n.exit"), "w").write("%d\n" % r.returncode)
        print(case["name"], r.returncode)
