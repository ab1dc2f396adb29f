"""Where tracing spends its CPU: one Raceway worker in-process under cProfile, loaded by wrk.

    python bench/profile_tracing.py [--ratio 1.0] [--seconds 5] [--top 30]

The worker serves ``bench/run.py``'s config (0 ms fake upstream) with ``telemetry.traces``
at ``--ratio`` (``--ratio -1``: tracing off), exporting to ``bench/otlp_sink.py`` in a
process of its own; wrk -t2 -c32 posts a small chat request for ``--seconds``. The event
loop thread and the span export thread are profiled apart (printed one after the other).
cProfile slows everything by a similar factor, so read shares, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import REPO, bench_session, free_port, start_sink, start_upstream, wait_health
from run import raceway_config, wrk

sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ratio", type=float, default=1.0)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--dump", type=Path, help="also write the event loop thread's profile here")
    args = parser.parse_args()

    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from router.config.load import load_config
    from router.http.app import create_app

    export_profile = cProfile.Profile(time.thread_time)
    export = OTLPSpanExporter.export
    enabled = threading.local()

    def profiled_export(self: OTLPSpanExporter, spans: Any) -> Any:
        if not getattr(enabled, "on", False):  # the export thread's first batch: profile the thread
            enabled.on = True
            export_profile.enable()
        return export(self, spans)

    OTLPSpanExporter.export = profiled_export  # type: ignore[method-assign]

    with bench_session() as (workdir, running):
        upstream_port, sink_port = free_port(), free_port()
        running.append(start_upstream(upstream_port))
        running.append(start_sink(sink_port))
        config = raceway_config(upstream_port)
        if args.ratio >= 0:
            config += (
                f"telemetry: {{traces: {{endpoint: 'http://127.0.0.1:{sink_port}', "
                f"sample_ratio: {args.ratio}}}}}\n"
            )
        config_file = workdir / "raceway.yaml"
        config_file.write_text(config)
        devnull = open(os.devnull, "w")  # noqa: SIM115 (open while the app writes to it)
        stdout, sys.stdout = sys.stdout, devnull
        try:  # the access log writes its lines to the stdout the app was made with
            app = create_app(load_config(config_file))
        finally:
            sys.stdout = stdout
        port = free_port()
        hypercorn_config = HypercornConfig()
        hypercorn_config.bind = [f"127.0.0.1:{port}"]
        hypercorn_config.accesslog = None
        url_root = f"http://127.0.0.1:{port}"
        profile = cProfile.Profile(time.thread_time)  # CPU time: the export thread holds the GIL at times

        async def run() -> tuple[float, float, float]:
            stop = asyncio.Event()
            server = asyncio.create_task(serve(app, hypercorn_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
            await asyncio.to_thread(
                wait_health, f"{url_root}/health", cast("subprocess.Popen[bytes]", _Alive())
            )
            url = f"{url_root}/v1/chat/completions"
            await asyncio.to_thread(wrk, url, "m0", 32, 2)  # warm-up
            profile.enable()
            result = await asyncio.to_thread(wrk, url, "m0", 32, args.seconds)
            profile.disable()
            stop.set()
            await server
            return result

        rps, _, _ = uvloop.run(run())
    print(f"ratio {args.ratio}: {rps:,.0f} requests/s under cProfile")
    if args.dump:
        profile.dump_stats(args.dump)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(r"opentelemetry|otel|tracing|exemplar", args.top)
    if export_profile.getstats():
        out.write("\n=== span export thread ===\n")
        stats = pstats.Stats(export_profile, stream=out)
        stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())


class _Alive:
    """Stands in for a Popen in ``wait_health``: the in-process server is always alive."""

    returncode = None

    def poll(self) -> None:
        return None


if __name__ == "__main__":
    main()
