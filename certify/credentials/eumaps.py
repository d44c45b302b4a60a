"""Default EU-DCC code maps for the seed's vaccines (editable at run time by admins).

Codes come from the eu-dcc-valuesets: ``mp`` vaccine-medicinal-product, ``vp``
vaccine-prophylaxis, ``ma`` vaccine-mah-manf, as the value sets' encoding instructions
(2023-05) give them for each product (viral-vector vaccines: 29061000087103, no longer
the generic 1119305005). A vaccine with no EU product code is left out, so an export
refuses it rather than inventing a code.
"""
from __future__ import annotations

VECTOR, MRNA, INACTIVATED, PROTEIN = "29061000087103", "1119349007", "1157024006", "1162643001"

#: English display names of the vaccine-prophylaxis codes (printed on the EU PDF).
VP_NAMES: dict[str, str] = {
    "1119305005": "SARS-CoV-2 antigen vaccine",
    "1119349007": "SARS-CoV-2 mRNA vaccine",
    "1157024006": "Inactivated whole SARS-CoV-2 antigen vaccine",
    "1162643001": "SARS-CoV-2 recombinant spike protein antigen vaccine",
    "29061000087103": "COVID-19 non-replicating viral vector vaccine",
    "28531000087107": "COVID-19 vaccine",
    "30141000087107": "SARS-CoV-2 virus-like particle antigen vaccine",
    "1187593009": "SARS-CoV-2 DNA plasmid encoding spike protein vaccine",
    "J07BX03": "covid-19 vaccines",
}

#: Display names of the product (mp) and manufacturer (ma) codes the default map uses.
MP_NAMES: dict[str, str] = {
    "EU/1/20/1528": "Comirnaty", "EU/1/20/1525": "Jcovden", "EU/1/20/1507": "Spikevax",
    "EU/1/21/1529": "Vaxzevria", "EU/1/21/1618": "Nuvaxovid",
}
MA_NAMES: dict[str, str] = {
    "ORG-100001981": "Serum Institute Of India Private Limited", "Bharat-Biotech": "Bharat Biotech",
    "Gamaleya-Research-Institute": "Gamaleya Research Institute", "ORG-100030215": "Biontech Manufacturing GmbH",
    "ORG-100001417": "Janssen-Cilag International", "ORG-100031184": "Moderna Biotech Spain S.L.",
    "ORG-100001699": "AstraZeneca AB", "Sinovac-Biotech": "Sinovac Biotech",
    "ORG-100020693": "China Sinopharm International Corp. - Beijing location",
    "ORG-100013793": "CanSino Biologics", "ORG-100032020": "Novavax CZ a.s.",
}

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
