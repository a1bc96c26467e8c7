"""Install the repository's top-level folders under one import package, `amlaudit`.

pyproject.toml holds the metadata; this file only computes the package map, which
pyproject's static `packages.find` cannot express (it cannot prefix a folder with a
parent package). Every sub-package found below a folder is listed, so a new one is
never left out of a wheel.
"""

from setuptools import find_packages, setup

FOLDERS = ("auditor", "checks", "reports", "fixtures")

setup(
    package_dir={f"amlaudit.{folder}": folder for folder in FOLDERS},
    packages=[
        f"amlaudit.{folder}{'.' + sub if sub else ''}"
        for folder in FOLDERS
        for sub in ("", *find_packages(folder))
    ],
)
