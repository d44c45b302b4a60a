"""WHO Digital Documentation of COVID-19 Certificates, Vaccination Status (DDCC:VS).

Flask-free.  :func:`ddcc_vs_from_credential` maps a signed DIVOC vaccination
credential onto the DDCC:VS core data set (``DDCCCoreDataSet.VS``, WHO DDCC IG
RC2); :func:`ddcc_vs_document` turns that into the IG's DDCC:VS document: a
FHIR R4 ``document`` Bundle with a ``DDCCVSComposition`` first, then the
Patient, the issuing Organization and the Immunization (and an
ImmunizationRecommendation when a next-dose date is known), following the
IG's mappings (``ddcc-core-data-set.fsh``):

====================  =============================================================
core data set         FHIR
====================  =============================================================
name                  Patient.name.text
birthDate             Patient.birthDate
identifier            Patient.identifier
vaccine               Immunization.vaccineCode (ICD-11 MMS)
brand                 Immunization.extension[DDCCEventBrand].valueCoding
manufacturer          Immunization.manufacturer
lot                   Immunization.lotNumber
date                  Immunization.occurrenceDateTime
validFrom             Immunization.extension[DDCCVaccineValidFrom].valueDate
dose / totalDoses     Immunization.protocolApplied.doseNumber / seriesDoses
country               Immunization.extension[DDCCCountryOfEvent].valueCode
centre                Immunization.location.display
practitioner          Immunization.performer.actor
disease               Immunization.protocolApplied.targetDisease
certificate.issuer    Composition.author / attester, protocolApplied.authority
certificate.hcid      Composition.identifier, Bundle.link[publication] (urn:HCID:)
certificate.period    Composition.event.period
nextDose              ImmunizationRecommendation.recommendation.dateCriterion.value
====================  =============================================================
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .vaccination import _norm

__all__ = [
    "DDCC_BRAND_ICD11",
    "DDCCVaccinationStatus",
    "ICD11_MMS",
    "ddcc_vs_document",
    "ddcc_vs_from_credential",
]

#: ICD-11 MMS as the WHO DDCC IG names it.
ICD11_MMS = "http://id.who.int/icd11/mms"
DDCC = "http://smart.who.int/ddcc"
LOINC = "http://loinc.org"
COVID19 = ("RA01", "COVID-19")
#: The DDCC IG's certificate schema version this export follows.
DDCC_VERSION = "RC2"

#: Normalised vaccine name -> ICD-11 brand code (WHO DDCC IG ConceptMap
#: vaccine-covid19-cvx-to-icd11); brands without one are named by display only.
DDCC_BRAND_ICD11: Mapping[str, tuple[str, str]] = {
    _norm(name): code for name, code in (
        ("Pfizer-BioNTech", ("XM8NQ0", "Comirnaty")), ("Comirnaty", ("XM8NQ0", "Comirnaty")),
        ("Moderna", ("XM3DT5", "COVID-19 Vaccine Moderna")), ("Spikevax", ("XM3DT5", "COVID-19 Vaccine Moderna")),
        ("AstraZeneca", ("XM4YL8", "COVID-19 Vaccine AstraZeneca")),
        ("Vaxzevria", ("XM4YL8", "COVID-19 Vaccine AstraZeneca")),
        ("Janssen", ("XM6QV1", "COVID-19 Vaccine Janssen")),
        ("Novavax", ("XM9T65", "Novavax COVID-19 vaccine")),
        ("Covaxin", ("XM1G90", "Covaxin")),
        ("Sputnik V", ("XM5ZJ4", "Gam-Covid-Vac")),
        ("Convidecia", ("XM1AG7", "Convidecia")),
        ("BBIBP-CorV", ("XM8866", "BBIBP-CorV")), ("Sinopharm", ("XM8866", "BBIBP-CorV")),
        ("Sinovac", ("XM7HT3", "CoronaVac")), ("Coronavac", ("XM7HT3", "CoronaVac")),
        ("Zycov-D", ("XM52P3", "ZyCoV-D")),
    )
}


def _str(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class DDCCVaccinationStatus:
    """The DDCC:VS core data set of one vaccination event (``DDCCCoreDataSet.VS``)."""

    name: str
    birth_date: str
    identifier: str
    vaccine_code: str
    vaccine_display: str
    brand: str
    brand_code: str
    manufacturer: str
    lot: str
    date: str
    valid_from: str
    dose: int
    total_doses: int | None
    country: str
    centre: str
    practitioner: str
    disease: tuple[str, str]
    issuer: str
    hcid: str
    valid_until: str
    next_dose: str = ""
    version: str = DDCC_VERSION


def ddcc_vs_from_credential(credential: Mapping[str, Any]) -> DDCCVaccinationStatus:
    """The core data set of a signed DIVOC vaccination credential.

    :raises ValueError: the credential lacks what DDCC:VS requires (name, vaccine code,
        dose number, date, certificate id).
    """
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    evidence = credential.get("evidence")
    ev = evidence[0] if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping) else {}
    facility = ev.get("facility") if isinstance(ev.get("facility"), Mapping) else {}
    address = facility.get("address") if isinstance(facility.get("address"), Mapping) else {}
    verifier = ev.get("verifier") if isinstance(ev.get("verifier"), Mapping) else {}
    issuer = credential.get("issuer")
    vaccine = _str(ev.get("vaccine"))
    brand_code, _ = DDCC_BRAND_ICD11.get(_norm(vaccine), ("", ""))
    status = DDCCVaccinationStatus(
        name=_str(subject.get("name")),
        birth_date=_str(subject.get("dob"))[:10],
        identifier=_str(subject.get("id")),
        vaccine_code=_str(ev.get("icd11Code")),
        vaccine_display=_str(ev.get("prophylaxis")),
        brand=vaccine,
        brand_code=brand_code,
        manufacturer=_str(ev.get("manufacturer")),
        lot=_str(ev.get("batch")),
        date=_str(ev.get("date")),
        valid_from=_str(ev.get("effectiveStart"))[:10],
        dose=_positive(ev.get("dose")) or 0,
        total_doses=_positive(ev.get("totalDoses")),
        country=_str(address.get("addressCountry")).upper(),
        centre=_str(facility.get("name")),
        practitioner=_str(verifier.get("name")),
        disease=COVID19,
        issuer=_str(issuer.get("id") if isinstance(issuer, Mapping) else issuer),
        hcid=_str(ev.get("certificateId")),
        valid_until=_str(ev.get("effectiveUntil"))[:10],
    )
    missing = [label for label, value in (("name", status.name), ("vaccine ICD-11 code", status.vaccine_code),
                                          ("dose", status.dose), ("date", status.date),
                                          ("certificate id", status.hcid)) if not value]
    if missing:
        raise ValueError(f"the credential lacks DDCC:VS data: {', '.join(missing)}")
    return status


def _occurrence(value: str) -> str:
    """A FHIR dateTime: DIVOC's ``2021-10-17T13:10`` has no seconds or zone, so keep the day."""
    if len(value) > 10 and ("Z" in value[10:] or "+" in value[10:] or "-" in value[10:]) and value.count(":") >= 2:
        return value
    return value[:10]


def ddcc_vs_document(ddcc: DDCCVaccinationStatus, *, issuer_name: str, timestamp: str,
                     base_url: str) -> dict[str, Any]:
    """The DDCC:VS document Bundle (``DDCCVSDocument``) for one vaccination event.

    ``timestamp`` is the document's time (FHIR instant); ``base_url`` names the
    identifier systems (``<base>/ddcc/...``).  ``fullUrl`` values are stable
    ``urn:uuid:`` ids derived from the certificate id, so the same certificate
    always gives the same document.
    """
    def urn(kind: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/ddcc/{ddcc.hcid}/{kind}"))

    patient_ref, org_ref, imm_ref, rec_ref, comp_ref = (
        urn("Patient"), urn("Organization"), urn("Immunization"), urn("ImmunizationRecommendation"),
        urn("Composition"))
    disease = {"coding": [{"system": ICD11_MMS, "code": ddcc.disease[0], "display": ddcc.disease[1]}]}
    vaccine_coding: dict[str, str] = {"system": ICD11_MMS, "code": ddcc.vaccine_code}
    if ddcc.vaccine_display:
        vaccine_coding["display"] = ddcc.vaccine_display
    brand: dict[str, str] = ({"system": ICD11_MMS, "code": ddcc.brand_code, "display": ddcc.brand}
                             if ddcc.brand_code else {"display": ddcc.brand})

    patient: dict[str, Any] = {"resourceType": "Patient", "name": [{"use": "official", "text": ddcc.name}]}
    if ddcc.identifier:
        patient["identifier"] = [{"value": ddcc.identifier}]
    if ddcc.birth_date:
        patient["birthDate"] = ddcc.birth_date

    organization: dict[str, Any] = {"resourceType": "Organization", "name": issuer_name or ddcc.issuer}
    if ddcc.issuer:
        organization["identifier"] = [{"value": ddcc.issuer}]

    extensions: list[dict[str, Any]] = []
    if ddcc.brand:
        extensions.append({"url": f"{DDCC}/StructureDefinition/DDCCEventBrand", "valueCoding": brand})
    if ddcc.country:
        extensions.append({"url": f"{DDCC}/StructureDefinition/DDCCCountryOfEvent", "valueCode": ddcc.country})
    if ddcc.valid_from:
        extensions.append({"url": f"{DDCC}/StructureDefinition/DDCCVaccineValidFrom", "valueDate": ddcc.valid_from})
    protocol: dict[str, Any] = {"authority": {"reference": org_ref}, "targetDisease": [disease],
                                "doseNumberPositiveInt": ddcc.dose}
    if ddcc.total_doses:
        protocol["seriesDosesPositiveInt"] = ddcc.total_doses
    immunization: dict[str, Any] = {"resourceType": "Immunization"}
    if extensions:
        immunization["extension"] = extensions
    immunization.update({
        "status": "completed",
        "vaccineCode": {"coding": [vaccine_coding]},
        "patient": {"reference": patient_ref},
        "occurrenceDateTime": _occurrence(ddcc.date),
    })
    if ddcc.centre:
        immunization["location"] = {"display": ddcc.centre}
    if ddcc.manufacturer:
        immunization["manufacturer"] = {"display": ddcc.manufacturer}
    if ddcc.lot:
        immunization["lotNumber"] = ddcc.lot
    if ddcc.practitioner:
        immunization["performer"] = [{"actor": {"display": ddcc.practitioner}}]
    immunization["protocolApplied"] = [protocol]

    section: dict[str, Any] = {
        "code": {"coding": [{"system": LOINC, "code": "11369-6"}]},
        "focus": {"reference": imm_ref},
        "entry": [{"reference": imm_ref}],
    }
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "identifier": {"system": f"{base_url}/ddcc/hcid", "value": ddcc.hcid},
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "82593-5"}]},
        "category": [{"coding": [{"system": f"{DDCC}/CodeSystem/DDCC-Composition-Category-CodeSystem",
                                  "code": "ddcc-vs"}]}],
        "subject": {"reference": patient_ref},
        "date": timestamp,
        "author": [{"reference": org_ref}],
        "title": "Digital Documentation of COVID-19 Certificate (DDCC)",
        "attester": [{"mode": "official", "party": {"reference": org_ref}}],
    }
    if ddcc.valid_from or ddcc.valid_until:
        period = {k: v for k, v in (("start", ddcc.valid_from), ("end", ddcc.valid_until)) if v}
        composition["event"] = [{"period": period}]
    composition["section"] = [section]

    entries = [
        {"fullUrl": comp_ref, "resource": composition},
        {"fullUrl": patient_ref, "resource": patient},
        {"fullUrl": org_ref, "resource": organization},
        {"fullUrl": imm_ref, "resource": immunization},
    ]
    if ddcc.next_dose:
        section["entry"].append({"reference": rec_ref})
        entries.append({"fullUrl": rec_ref, "resource": {
            "resourceType": "ImmunizationRecommendation",
            "patient": {"reference": patient_ref},
            "date": timestamp,
            "recommendation": [{
                "vaccineCode": [{"coding": [vaccine_coding]}],
                "targetDisease": disease,
                "forecastStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status",
                    "code": "due"}]},
                "dateCriterion": [{"code": {"coding": [{"system": LOINC, "code": "30980-7"}]},
                                   "value": ddcc.next_dose}],
                "supportingImmunization": [{"reference": imm_ref}],
            }],
        }})
    return {
        "resourceType": "Bundle",
        "identifier": {"system": f"{base_url}/ddcc/document", "value": ddcc.hcid},
        "type": "document",
        "timestamp": timestamp,
        "link": [{"relation": "publication", "url": f"urn:HCID:{ddcc.hcid}"}],
        "entry": entries,
    }
