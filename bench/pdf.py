"""Benchmark certificate PDF rendering on one CPU core.

    .venv/bin/python bench/pdf.py [--renders 60] [--warmup 5] [--cold 5] [--per-script 20]

Every timed render is a *first* render of a distinct certificate (new name,
certificate id, dose, QR image), with one long-lived CertificateRenderer, as in
a worker process. QR images are generated before timing: QR encoding is not part
of PDF rendering. ``--cold`` also times renders with a new renderer each time
(new FontConfiguration + CSS parse), the cost the shared renderer avoids.
``--per-script`` then times that many renders in each language of
certify.render.LANGUAGES (labels in the language, holder name in its script),
and bilingual Hindi.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certify.credentials.qr import qr_png as encode_qr  # noqa: E402
from certify.render import LANGUAGES, CertificateRenderer, CertificateView  # noqa: E402

CREDENTIAL = ROOT.parent / "shared" / "interop" / "divoc" / "ed25519-signed-valid.json"
NAMES = ["प्रिया शर्मा", "செல்வி கார்த்திகேயன்", "Sean \"Ronnie\" O'Brien", "Anil Kumar",
         "সুমিতা দাস", "ಅನಿತಾ ರಾವ್", "Mohammed Irfan", "జ్యోతి రెడ్డి"]


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


#: A holder name in the script of each language.
SCRIPT_NAMES = {
    "en": "Sean O'Brien", "hi": "प्रिया शर्मा", "bn": "জ্যোতির্ময় চক্রবর্তী",
    "ta": "செல்வி கார்த்திகேயன்", "te": "జ్యోతి రెడ్డి", "mr": "अर्चना श्रीकृष्ण दिवेकर",
    "gu": "ધર્મિષ્ઠા પટેલ", "kn": "ಶ್ರೀನಿವಾಸ ಕೃಷ್ಣಮೂರ್ತಿ", "ml": "ശോഭ ലക്ഷ്മി കൃഷ്ണൻ",
    "pa": "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸਿੱਧੂ", "si": "ශ්‍රියානි පෙරේරා", "ur": "عائشہ صدیقی",
}


def qr_png(seed: int) -> bytes:
    return encode_qr(os.urandom(1000 + seed % 100))  # ~DIVOC payload size, EC level M


def views(count: int, names: list[str] | None = None) -> list[CertificateView]:
    base = json.loads(CREDENTIAL.read_text(encoding="utf-8"))
    names = names or NAMES
    result = []
    for i in range(count):
        credential = copy.deepcopy(base)
        credential["credentialSubject"]["name"] = names[i % len(names)]
        evidence = credential["evidence"][0]
        evidence.update(certificateId=f"{100000000000 + i}", dose=1 + i % 2, totalDoses=2,
                        vaccine="COVISHIELD", batch=f"4121Z{i:03d}")
        result.append(CertificateView.from_credential(credential))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=60, help="timed renders")
    parser.add_argument("--warmup", type=int, default=5, help="untimed renders first")
    parser.add_argument("--cold", type=int, default=5, help="renders with a fresh renderer each")
    parser.add_argument("--per-script", type=int, default=20,
                        help="timed renders per language (0: skip)")
    args = parser.parse_args()

    pinned = pin_to_one_core()
    total = args.warmup + args.renders + args.cold
    qrs = [qr_png(i) for i in range(total)]
    items = views(total)

    started = time.perf_counter()
    renderer = CertificateRenderer()
    setup_ms = (time.perf_counter() - started) * 1000

    for i in range(args.warmup):
        renderer.render_pdf(items[i], qrs[i])

    times, size = [], 0
    for i in range(args.warmup, args.warmup + args.renders):
        t0 = time.perf_counter()
        pdf = renderer.render_pdf(items[i], qrs[i])
        times.append(time.perf_counter() - t0)
        size += len(pdf)

    cold = []
    for i in range(args.warmup + args.renders, total):
        t0 = time.perf_counter()
        CertificateRenderer().render_pdf(items[i], qrs[i])
        cold.append(time.perf_counter() - t0)

    mean = statistics.fmean(times)
    print(f"certificate PDF render, one core ({pinned}), {args.renders} distinct certificates "
          f"after {args.warmup} warm-up renders")
    print(f"  renderer setup        {setup_ms:7.1f} ms (once per process)")
    print(f"  PDFs/s                {1 / mean:7.1f}")
    print(f"  ms per render  mean   {mean * 1000:7.1f}   median {statistics.median(times) * 1000:.1f}"
          f"   p95 {sorted(times)[int(len(times) * 0.95) - 1] * 1000:.1f}"
          f"   min {min(times) * 1000:.1f}")
    print(f"  PDF size       mean   {size / len(times) / 1024:7.1f} KiB")
    if cold:
        print(f"  fresh renderer/render {statistics.fmean(cold) * 1000:7.1f} ms "
              f"({1 / statistics.fmean(cold):.1f} PDFs/s) - why the renderer is shared")
    if args.per_script:
        per_script(renderer, args.per_script)


def per_script(renderer: CertificateRenderer, count: int) -> None:
    print(f"per language, {count} distinct certificates each (first render of each, one core):")
    runs = [(lang, False) for lang in LANGUAGES] + [("hi", True)]
    for lang, bilingual in runs:
        items = views(count + 1, [SCRIPT_NAMES[lang]])
        qrs = [qr_png(1000 + i) for i in range(count + 1)]
        renderer.render_pdf(items[0], qrs[0], lang=lang, bilingual=bilingual)  # parse lang CSS
        times = []
        for item, qr in zip(items[1:], qrs[1:]):
            t0 = time.perf_counter()
            renderer.render_pdf(item, qr, lang=lang, bilingual=bilingual)
            times.append(time.perf_counter() - t0)
        label = f"{LANGUAGES[lang][0]}{' + English' if bilingual else ''} ({lang})"
        print(f"  {label:24s} {1 / statistics.fmean(times):5.1f} PDFs/s   "
              f"median {statistics.median(times) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
