"""The process environment that points a live collection at a stand-in, and nowhere else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import trustme

STANDIN_AZ = Path(__file__).resolve().parent / "az"

# Anything that could give DefaultAzureCredential another identity, send it to a metadata or login
# endpoint, or route loopback traffic through a proxy.
CLEARED_PREFIXES = ("AZURE_", "MSI_", "IDENTITY_", "IMDS_", "AMLAUDIT_")
CLEARED_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def standin_environment(url: str, ca: trustme.CA, workdir: Path) -> tuple[dict[str, str], list[str]]:
    """(variables to set, variables to remove) so that azure-identity and azure-core talk to the stand-in
    at `url` (whose certificate `ca` issued) and nothing else.

    - `AZURE_TOKEN_CREDENTIALS=AzureCliCredential` narrows DefaultAzureCredential to the CLI
      credential, so it never probes the instance metadata service or a login host;
    - the stand-in `az` comes first on PATH (copied so its executable bit does not depend on the checkout);
    - `REQUESTS_CA_BUNDLE` makes azure-core's requests transport trust the stand-in's CA;
    - `NO_PROXY` keeps loopback traffic off any proxy.
    """
    bin_dir = workdir / "standin-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    az = bin_dir / "az"
    shutil.copyfile(STANDIN_AZ, az)
    az.chmod(0o755)
    ca_bundle = workdir / "standin-ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    to_set = {
        "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "REQUESTS_CA_BUNDLE": str(ca_bundle),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AMLAUDIT_ARM_ENDPOINT": url,
        "STANDIN_AZ_LOG": str(workdir / "az-invocations.log"),
    }
    to_remove = [name for name in os.environ
                 if (name.startswith(CLEARED_PREFIXES) or name in CLEARED_NAMES) and name not in to_set]
    return to_set, to_remove
