"""A local S3-compatible server for tests: moto's standalone server on 127.0.0.1 and a free port.

moto 5.2.5 honours the conditional PUT LanceDB commits with (HTTP 412 on a lost race), so LanceDB on it
behaves as on S3. It is a stand-in for S3 itself, reached over real HTTP by LanceDB's own object store client.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from support.http_server import free_port, wait_port

MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


class MotoServer:
    def __init__(self) -> None:
        # a server that is already running (MEMCOLLAB_TEST_S3_ENDPOINT): mutation runs start one for all their
        # children instead of one per child; every test still gets a bucket of its own
        shared = os.environ.get("MEMCOLLAB_TEST_S3_ENDPOINT")
        if shared:
            self.proc, self.endpoint = None, shared
            return
        self.port = free_port()
        self.proc = subprocess.Popen([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, deadline=60)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables memcollab (and LanceDB) read."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def new_bucket(self) -> str:
        import boto3

        name = "bank-" + secrets.token_hex(6)
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
