"""Benchmark certificate PDF rendering on one CPU core.

    .venv/bin/python bench/pdf.py [--renders 60] [--warmup 5] [--cold 5] [--per-script 20]

Every timed render is a *first* render of a distinct certificate (new holder
name, certificate id, dose, QR image), with one long-lived CertificateRenderer,
as in a worker process. QR images are generated before timing: QR encoding is
not part of PDF rendering. ``--cold`` also times renders with a new renderer
each time (new FontConfiguration, CSS parse, empty style and text-line caches),
the cost the shared renderer avoids. ``--per-script`` then times that many
renders in each language of certify.render.LANGUAGES (labels in the language,
a different holder name in its script each time), bilingual Hindi, Tamil and
Urdu, and the test report in English and Hindi.

Each figure is given as renders per wall-clock second (what the core did) and
renders per CPU-second of this process (``time.process_time`` of each render:
the median render and the fastest), which is steadier on a shared machine
where other processes take turns on the core. The first render in each
language (the one that fills the renderer's caches for it) is shown apart and
not counted.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certify.credentials.qr import qr_png as encode_qr  # noqa: E402
from certify.render import (  # noqa: E402
    LANGUAGES,
    CertificateRenderer,
    CertificateView,
    TestCertificateView,
)

#: The shared interop fixtures live beside the checkout (``../shared``), or beside
#: the directory of worktrees (``../../shared``).
INTEROP = next((p / "shared" / "interop" for p in ROOT.parents
                if (p / "shared" / "interop").is_dir()), ROOT.parent / "shared" / "interop")
CREDENTIAL = INTEROP / "divoc" / "ed25519-signed-valid.json"

#: Given names and family names in the script of each language: every
#: combination is a distinct holder name (25 per script).
SCRIPT_NAMES = {
    "en": ("Sean Priya Anil Mary Karthik", "O'Brien Sharma Kumar D'Souza Iyer"),
    "hi": ("प्रिया राहुल सुनीता अमित पूजा", "शर्मा वर्मा सिंह गुप्ता त्रिपाठी"),
    "bn": ("জ্যোতির্ময় সুমিতা অর্পিতা প্রসেনজিৎ শ্রাবন্তী", "চক্রবর্তী দাস বন্দ্যোপাধ্যায় মুখোপাধ্যায় সেন"),
    "ta": ("செல்வி கார்த்திக் லக்ஷ்மி முருகன் ஸ்ரீநிதி",
           "கார்த்திகேயன் சுப்பிரமணியம் ராஜேந்திரன் வெங்கடேசன் கிருஷ்ணன்"),
    "te": ("జ్యోతి శ్రీనివాస్ లక్ష్మి వెంకటేశ్వర్లు ప్రసన్న", "రెడ్డి రావు నాయుడు చౌదరి శర్మ"),
    "mr": ("अर्चना श्रीकृष्ण स्वाती प्रथमेश ज्ञानेश्वर", "दिवेकर कुलकर्णी देशपांडे पाटील जोशी"),
    "gu": ("ધર્મિષ્ઠા પ્રફુલ્લ હાર્દિક કૃપા જિજ્ઞેશ", "પટેલ શાહ ત્રિવેદી દેસાઈ મહેતા"),
    "kn": ("ಶ್ರೀನಿವಾಸ ಅನಿತಾ ಪ್ರಕಾಶ್ ಲಕ್ಷ್ಮೀ ಕೃಷ್ಣ", "ಕೃಷ್ಣಮೂರ್ತಿ ರಾವ್ ಹೆಗಡೆ ಗೌಡ ಭಟ್"),
    "ml": ("ശോഭ ലക്ഷ്മി പ്രദീപ് ശ്രീജിത്ത് അനന്തു", "കൃഷ്ണൻ നായർ മേനോൻ പിള്ള വർഗീസ്"),
    "pa": ("ਗੁਰਪ੍ਰੀਤ ਹਰਜੀਤ ਸੁਖਵਿੰਦਰ ਮਨਪ੍ਰੀਤ ਜਸਪ੍ਰੀਤ", "ਸਿੱਧੂ ਗਿੱਲ ਸੰਧੂ ਬਰਾੜ ਢਿੱਲੋਂ"),
    "si": ("ශ්‍රියානි කුමාර නිමල් චන්ද්‍රිකා දිල්රුක්ෂි", "පෙරේරා ප්‍රනාන්දු සිල්වා ජයසූරිය බණ්ඩාර"),
    "ur": ("عائشہ محمد فاطمہ عمران زینب", "صدیقی خان قریشی انصاری چودھری"),
}


def holder_names(lang: str) -> list[str]:
    given, family = (part.split() for part in SCRIPT_NAMES[lang])
    return [f"{g} {f}" for f, g in itertools.product(family, given)]


#: Holder names of the main run: every script in turn.
MIXED_NAMES = [name for names in zip(*(holder_names(lang) for lang in SCRIPT_NAMES))
               for name in names]


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def qr_png(seed: int) -> bytes:
    return encode_qr(os.urandom(1000 + seed % 100))  # ~DIVOC payload size, EC level M


def views(count: int, names: list[str]) -> list[CertificateView]:
    base = json.loads(CREDENTIAL.read_text(encoding="utf-8"))
    result = []
    for i in range(count):
        credential = copy.deepcopy(base)
        credential["credentialSubject"]["name"] = names[i % len(names)]
        evidence = credential["evidence"][0]
        evidence.update(certificateId=f"{100000000000 + i}", dose=1 + i % 2, totalDoses=2,
                        vaccine="COVISHIELD", batch=f"4121Z{i:03d}")
        result.append(CertificateView.from_credential(credential))
    return result


def test_views(count: int, names: list[str]) -> list[TestCertificateView]:
    result = []
    for i in range(count):
        credential = {
            "issuer": "https://cowin.gov.in/",
            "issuanceDate": "2021-10-17T10:00:00.000Z",
            "credentialSubject": {"id": "did:Aadhaar:1234 5678 9012", "refId": f"98765{i}",
                                  "name": names[i % len(names)], "dob": "1990-04-01",
                                  "gender": "Female", "nationality": "Indian",
                                  "address": {"streetAddress": "12, MG Road", "city": "Pune",
                                              "addressRegion": "Maharashtra",
                                              "postalCode": "411001", "addressCountry": "IN"}},
            "evidence": [{"type": ["TestDetails"], "certificateId": f"{200000000000 + i}",
                          "disease": "COVID-19", "testType": "RT-PCR",
                          "testName": "Allplex 2019-nCoV Assay", "manufacturer": "Seegene",
                          "batch": f"SG{i:04d}", "sampleOrigin": "Nasopharyngeal",
                          "sampleCollectionTimestamp": "2021-10-17T07:40:00.000Z",
                          "resultTimestamp": "2021-10-17T15:10:00.000Z",
                          "result": "Negative" if i % 3 else "Positive",
                          "verifier": {"name": "Dr. Anjali Rao"},
                          "facility": {"name": "City Diagnostics Lab",
                                       "address": {"streetAddress": "5, FC Road", "city": "Pune",
                                                   "addressRegion": "Maharashtra",
                                                   "postalCode": "411004"}}}],
        }
        result.append(TestCertificateView.from_credential(credential))
    return result


class Timings:
    """Wall-clock and CPU seconds of a series of renders."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, render: Callable[[], bytes]) -> bytes:
        w0, c0 = time.perf_counter(), time.process_time()
        result = render()
        self.cpu.append(time.process_time() - c0)
        self.wall.append(time.perf_counter() - w0)
        return result

    def per_second(self) -> str:
        """Renders per wall-clock second (mean), per CPU-second (median render
        and fastest render: other processes slow the CPU-time of a render too,
        through shared caches and cores, and the fastest is the least slowed)."""
        return (f"{1 / statistics.fmean(self.wall):5.1f}/s wall"
                f"{1 / statistics.median(self.cpu):7.1f}/CPU-s median"
                f"{1 / min(self.cpu):6.1f} best")

    def ms(self) -> str:
        return (f"median {statistics.median(self.wall) * 1000:5.1f} ms wall, "
                f"{statistics.median(self.cpu) * 1000:5.1f} ms CPU")


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
    items = views(total, MIXED_NAMES)

    started = time.perf_counter()
    renderer = CertificateRenderer()
    setup_ms = (time.perf_counter() - started) * 1000

    for i in range(args.warmup):
        renderer.render_pdf(items[i], qrs[i])

    timings, size = Timings(), 0
    for i in range(args.warmup, args.warmup + args.renders):
        size += len(timings.time(lambda: renderer.render_pdf(items[i], qrs[i])))

    cold = Timings()
    for i in range(args.warmup + args.renders, total):
        cold.time(lambda: CertificateRenderer().render_pdf(items[i], qrs[i]))

    wall = sorted(timings.wall)
    print(f"certificate PDF render, one core ({pinned}), {args.renders} distinct certificates "
          f"(holder names in all 12 scripts, English labels) after {args.warmup} warm-up renders")
    print(f"  renderer setup        {setup_ms:7.1f} ms (once per process)")
    print(f"  PDFs                  {timings.per_second()}")
    print(f"  ms per render         {timings.ms()}"
          f"   wall p95 {wall[int(len(wall) * 0.95) - 1] * 1000:.1f}   min {wall[0] * 1000:.1f}")
    print(f"  PDF size       mean   {size / len(wall) / 1024:7.1f} KiB")
    if cold.wall:
        print(f"  fresh renderer/render {statistics.fmean(cold.wall) * 1000:7.1f} ms "
              f"({1 / statistics.fmean(cold.wall):.1f} PDFs/s) - why the renderer is shared")
    if args.per_script:
        per_script(renderer, args.per_script)


def per_script(renderer: CertificateRenderer, count: int) -> None:
    print(f"per language, {count} distinct certificates each, after the language's first render "
          "(one core):")
    runs = ([(lang, False, False) for lang in LANGUAGES]
            + [("hi", True, False), ("ta", True, False), ("ur", True, False),
               ("en", False, True), ("hi", False, True)])
    overall = Timings()
    for lang, bilingual, test_report in runs:
        names = holder_names(lang)
        qrs = [qr_png(1000 + i) for i in range(count + 1)]
        if test_report:
            items: list = test_views(count + 1, names)
            render: Callable = renderer.render_test_pdf
        else:
            items, render = views(count + 1, names), renderer.render_pdf
        first = Timings()
        first.time(lambda: render(items[0], qrs[0], lang=lang, bilingual=bilingual))
        timings = Timings()
        for item, qr in zip(items[1:], qrs[1:]):
            timings.time(lambda: render(item, qr, lang=lang, bilingual=bilingual))
        overall.wall += timings.wall
        overall.cpu += timings.cpu
        label = (f"{LANGUAGES[lang][0]}{' + English' if bilingual else ''}"
                 f"{' test report' if test_report else ''} ({lang})")
        print(f"  {label:26s} {timings.per_second()}   {timings.ms()}   "
              f"(first: {first.wall[0] * 1000:.0f} ms)")
    print(f"  {'all of the above':26s} {overall.per_second()}")


if __name__ == "__main__":
    main()
