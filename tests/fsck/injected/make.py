#!/usr/bin/env python3
"""Records what the real bcachefs-tools a76f36fc6 `fsck -n` prints on each case of cases.json: the base image
(a fixture of ../shared/fixtures/bcachefs-2021, or an image of tests/fsck/fixtures) with its steps applied in
order ("inject ARGS": ../shared/tools/inject.py inject IMG ARGS; "patch ARGS": patch.py IMG ARGS). Writes
NAME.fsck-n.txt and NAME.fsck-n.exit here; the test makes the same images again and compares."""
import gzip, json, os, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "..", "..", "shared")
tool = os.path.join(shared, "tools", "bcachefs-2021", "bcachefs")
tools = {"inject": [os.path.join(shared, "tools", "inject.py"), "inject"], "patch": [os.path.join(here, "patch.py")]}

def base_image(name):
    p = os.path.join(shared, "fixtures", "bcachefs-2021", name, "image.img.gz")
    return p if os.path.exists(p) else os.path.join(here, "..", "fixtures", name + ".img.gz")

with tempfile.TemporaryDirectory() as tmp:
    for case in json.load(open(os.path.join(here, "cases.json"))):
        img = os.path.join(tmp, "image.img")
        with gzip.open(base_image(case["base"])) as src, open(img, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for step in case["steps"]:
            tool_args, args = tools[step.split()[0]], step.split()[1:]
            subprocess.run([sys.executable, tool_args[0]] + tool_args[1:] + [img] + args, check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run([tool, "fsck", "-n", "image.img"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        open(os.path.join(here, case["name"] + ".fsck-n.txt"), "wb").write(r.stdout)
        open(os.path.join(here, case["name"] + ".fsck-n.exit"), "w").write("%d\n" % r.returncode)
        print(case["name"], r.returncode)
