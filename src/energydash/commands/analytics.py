"""`energydash analytics`: anomaly scores, failure risk and alerts from MQTT telemetry."""

from __future__ import annotations

import argparse

from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analytics",
        help="score MQTT telemetry and publish alerts on energydash/alerts (a separate worker)",
        description="Consume PDU and equipment telemetry from the broker "
        "(ENERGYDASH_MQTT_HOST/PORT), raise the same alerts as the backend's in-process "
        "analytics, and publish them on ENERGYDASH_MQTT_ALERTS_TOPIC. Run the backend with "
        "ENERGYDASH_ANALYTICS=false when this worker does the job.",
    )
    parser.add_argument(
        "--share-group",
        help="join $share/<group>/ so several workers split the messages "
        "(default: ENERGYDASH_ANALYTICS_SHARE_GROUP)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import signal

    from energydash.analytics.worker import AnalyticsWorker
    from energydash.logs import setup_logging

    if args.share_group is not None:
        if "/" in args.share_group or "+" in args.share_group or "#" in args.share_group:
            print("energydash analytics: --share-group must not contain / + or #")
            return 2
        settings = settings.model_copy(update={"analytics_share_group": args.share_group})
    setup_logging("analytics", settings)

    async def main() -> int:
        worker = AnalyticsWorker(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        connected = await worker.wait_connected(10.0)
        where = f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}"
        share = settings.analytics_share_group
        print(
            f"analytics worker {'connected to' if connected else 'connecting to'} {where}"
            + (f" in $share group {share}" if share else "")
            + f", alerts on {settings.mqtt_alerts_topic}",
            flush=True,
        )
        await stop.wait()
        await worker.stop()
        book = worker.service.book
        print(
            f"analytics worker stopped: {worker.received:,} messages, "
            f"{len(book.all())} alerts ({len(book.live())} live)",
            flush=True,
        )
        return 0

    return asyncio.run(main())
