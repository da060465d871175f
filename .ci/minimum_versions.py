"""Print the pins CI's minimum-versions job installs: `name==floor` for every runtime dependency in
pyproject.toml that applies to this Python, and for the optional extras named as arguments.

    python .ci/minimum_versions.py video tensorboard     # numpy==1.23.2 gymnasium==1.3.0 ...

A requirement without a `>=` floor is an error: every floor must be one the suite ran on.
"""

import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
pins = []
for text in requirements:
    requirement = Requirement(text)
    if requirement.marker is not None and not requirement.marker.evaluate():
        continue
    floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    if len(floors) != 1:
        sys.exit(f"error: {text!r} in pyproject.toml needs exactly one '>=' floor")
    pins.append(f"{requirement.name}=={floors[0]}")
print(" ".join(pins))
