#!/usr/bin/env python3
"""Records what the real bcachefs-tools a76f36fc6 `fsck -n` prints on each case of cases.json: the base image
(a fixture of ../shared/fixtures/bcachefs-2021, or an image of tests/fsck/fixtures) with the injections of
../shared/tools/inject.py applied in order. Writes NAME.fsck-n.txt and NAME.fsck-n.exit here; the test makes
the same images again and compares."""
import gzip, json, os, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "..", "..", "shared")
tool = os.path.join(shared, "tools", "bcachefs-2021", "bcachefs")
inject = os.path.join(shared, "tools", "inject.py")

def base_image(name):
    p = os.path.join(shared, "fixtures", "bcachefs-2021", name, "image.img.gz")
    return p if os.path.exists(p) else os.path.join(here, "..", "fixtures", name + ".img.gz")

with tempfile.TemporaryDirectory() as tmp:
    for case in json.load(open(os.path.join(here, "cases.json"))):
        img = os.path.join(tmp, "image.img")
        with gzip.open(base_image(case["base"])) as src, open(img, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for args in case["inject"]:
            subprocess.run([sys.executable, inject, "inject", img] + args.split(), check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run([tool, "fsck", "-n", "image.img"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        open(os.path.join(here, case["name"] + ".fsck-n.txt"), "wb").write(r.stdout)
        open(os.path.join(here, case["name"] + ".fsck-n.exit"), "w").write("%d\n" % r.returncode)
        print(case["name"], r.returncode)
