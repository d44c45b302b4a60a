"""Default EU-DCC code maps for the seed's vaccines (editable at run time by admins).

Codes come from the eu-dcc-valuesets: ``mp`` vaccine-medicinal-product, ``vp``
vaccine-prophylaxis, ``ma`` vaccine-mah-manf. A vaccine with no EU product code is left out,
so an export refuses it rather than inventing a code.
"""
from __future__ import annotations

VECTOR, MRNA, INACTIVATED, PROTEIN = "1119305005", "1119349007", "1157024006", "1162643001"

DEFAULT_EU_MAP: dict[str, dict[str, str]] = {
    "Covishield": {"mp": "Covishield", "vp": VECTOR, "ma": "ORG-100001981"},
    "Covaxin": {"mp": "Covaxin", "vp": INACTIVATED, "ma": "Bharat-Biotech"},
    "Sputnik V": {"mp": "Sputnik-V", "vp": VECTOR, "ma": "Gamaleya-Research-Institute"},
    "Pfizer-BioNTech": {"mp": "EU/1/20/1528", "vp": MRNA, "ma": "ORG-100030215"},
    "Comirnaty": {"mp": "EU/1/20/1528", "vp": MRNA, "ma": "ORG-100030215"},
    "Janssen": {"mp": "EU/1/20/1525", "vp": VECTOR, "ma": "ORG-100001417"},
    "Moderna": {"mp": "EU/1/20/1507", "vp": MRNA, "ma": "ORG-100031184"},
    "Spikevax": {"mp": "EU/1/20/1507", "vp": MRNA, "ma": "ORG-100031184"},
    "AstraZeneca": {"mp": "EU/1/21/1529", "vp": VECTOR, "ma": "ORG-100001699"},
    "Vaxzevria": {"mp": "EU/1/21/1529", "vp": VECTOR, "ma": "ORG-100001699"},
    "Sinovac": {"mp": "CoronaVac", "vp": INACTIVATED, "ma": "Sinovac-Biotech"},
    "Coronavac": {"mp": "CoronaVac", "vp": INACTIVATED, "ma": "Sinovac-Biotech"},
    "BBIBP-CorV": {"mp": "BBIBP-CorV", "vp": INACTIVATED, "ma": "ORG-100020693"},
    "Sinopharm": {"mp": "BBIBP-CorV", "vp": INACTIVATED, "ma": "ORG-100020693"},
    "Convidecia": {"mp": "Convidecia", "vp": VECTOR, "ma": "ORG-100013793"},
    "Covovax": {"mp": "Covovax", "vp": PROTEIN, "ma": "ORG-100001981"},
    "Novavax": {"mp": "EU/1/21/1618", "vp": PROTEIN, "ma": "ORG-100032020"},
}
