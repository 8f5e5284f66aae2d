"""Starting Spark for `forensics cluster --engine spark`: the checks, then one session.

pyspark is an optional extra and Spark needs a Java runtime (17 or newer); both are checked
before the JVM is started, so a missing one is one clear line (ForensicsError) rather than a
Py4J traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from forensics.errors import ForensicsError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17
LOCAL_PARTITIONS_PER_CORE = 4
LOCAL_DRIVER_MEMORY = "4g"
INSTALL_EXTRA = "the Spark engine needs the spark extra: pip install 'forensics[spark]'"
INSTALL_JAVA = (
    "install a Java {need}+ runtime (e.g. `apt-get install openjdk-17-jre-headless`, "
    "`brew install openjdk@17`) and put it on PATH or set JAVA_HOME"
)


def java_executable() -> str | None:
    """The java Spark will start: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else PATH's."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / ("java.exe" if sys.platform == "win32" else "java")
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """The major version `java -version` reports (8 for "1.8.0_x", 17 for "17.0.15"), or None."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def require_spark() -> None:
    """Raise ForensicsError (one line) unless pyspark imports and a Java 17+ runtime is found."""
    try:  # pyspark's Arrow functions (mapInArrow, applyInArrow) also need pandas
        import pandas  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        raise ForensicsError(INSTALL_EXTRA) from None
    java = java_executable()
    if java is None:
        where = "in JAVA_HOME" if os.environ.get("JAVA_HOME") else "on PATH"
        raise ForensicsError(
            f"the Spark engine needs Java {MIN_JAVA}, and no java was found {where}: "
            + INSTALL_JAVA.format(need=MIN_JAVA)
        )
    major = java_major_version(java)
    if major is None:
        raise ForensicsError(
            f"the Spark engine needs Java {MIN_JAVA}, and {java} -version did not run: "
            + INSTALL_JAVA.format(need=MIN_JAVA)
        )
    if major < MIN_JAVA:
        raise ForensicsError(
            f"the Spark engine needs Java {MIN_JAVA}, and {java} is Java {major}: "
            + INSTALL_JAVA.format(need=MIN_JAVA)
        )


def local_cores(master: str | None) -> int:
    """Cores of a local master: N for ``local[N]``, the machine's for ``local[*]`` or None."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master or "local[*]")
    if found and found.group(1) and found.group(1) != "*":
        return max(1, int(found.group(1)))
    if found and found.group(1) is None:  # plain "local": one core
        return 1
    return max(1, os.cpu_count() or 1)


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A Spark session: ``local[*]`` when ``master`` is None, UTC session time, ``conf`` applied.

    In local mode the Python workers run this interpreter (they import forensics). The
    console progress bar and (locally) the web UI are off unless ``conf`` turns them on.
    An already running session is reused by Spark (its master cannot change then).
    """
    require_spark()
    from pyspark.sql import SparkSession

    local = master is None or master.startswith("local")
    # Locally, Spark's 200 shuffle partitions are 200 tiny Python tasks per shuffle: a few
    # per core instead (a cluster keeps Spark's default unless --spark-conf says otherwise).
    local_defaults = {
        "spark.ui.enabled": "false",
        # the driver is the whole local cluster: Spark's 1 GB default spills at campaign 0.1
        "spark.driver.memory": LOCAL_DRIVER_MEMORY,
        "spark.sql.shuffle.partitions": str(LOCAL_PARTITIONS_PER_CORE * local_cores(master)),
    }
    settings = {
        "spark.app.name": "forensics",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        **(local_defaults if local else {}),
        **(conf or {}),
    }
    if local:  # pyspark starts workers with PYSPARK_PYTHON, else whatever `python3` is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master or "local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start or the master is unreachable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ForensicsError(
            f"could not start Spark (master {master or 'local[*]'}): {first}"
        ) from None
    for key, value in settings.items():  # a reused session: apply what can change at runtime
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("ERROR")
    return spark
