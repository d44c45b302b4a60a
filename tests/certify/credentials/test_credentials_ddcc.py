"""WHO DDCC:VS: the core data set from a DIVOC credential, and the FHIR document Bundle."""
from __future__ import annotations

import dataclasses
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from certify.credentials import build_vaccination_credential
from certify.credentials.ddcc import (
    ICD11_MMS,
    ddcc_vs_document,
    ddcc_vs_from_credential,
)
from tests.factories import SAMPLE_ITEM

DDCC = "http://smart.who.int/ddcc/StructureDefinition/"


def credential(**sections) -> dict:
    item = json.loads(json.dumps(SAMPLE_ITEM))
    for section, values in sections.items():
        item[section].update(values)
    return build_vaccination_credential(
        item, certificate_id="10000000000000000001", issuer="https://divoc.test/",
        context_url="https://divoc.test/credentials/vaccination/v2",
        issuance_date="2021-10-17T13:20:00.000Z", evidence_base_url="https://divoc.test/vaccine/")


def test_core_data_set_from_a_divoc_credential():
    ddcc = ddcc_vs_from_credential(credential(vaccination={"name": "Covaxin", "manufacturer": "Bharat-Biotech"}))

    assert (ddcc.name, ddcc.birth_date, ddcc.identifier) == ("John Doe", "1987-04-21", "did:divoc:872550100V")
    assert (ddcc.vaccine_code, ddcc.brand, ddcc.brand_code, ddcc.manufacturer) == (
        "XM1NL1", "Covaxin", "XM1G90", "Bharat-Biotech")
    assert (ddcc.lot, ddcc.date, ddcc.valid_from, ddcc.dose, ddcc.total_doses) == (
        "41202025", "2021-10-17T13:10", "2021-10-25", 1, 2)
    assert (ddcc.country, ddcc.centre, ddcc.practitioner, ddcc.disease) == (
        "LK", "MOH Gothatuwa", "Bartjan Verduijn", ("RA01", "COVID-19"))
    assert (ddcc.issuer, ddcc.hcid, ddcc.valid_until) == ("https://divoc.test/", "10000000000000000001", "2022-10-24")


def test_a_credential_without_a_vaccine_code_is_refused():
    with pytest.raises(ValueError, match="vaccine ICD-11 code"):
        ddcc_vs_from_credential(credential(vaccination={"name": "Unlisted vaccine"}))


def test_document_bundle_is_valid_fhir_in_the_ddcc_vs_shape():
    ddcc = dataclasses.replace(ddcc_vs_from_credential(credential()), next_dose="2021-11-15")

    doc = ddcc_vs_document(ddcc, issuer_name="Ministry of Health", timestamp="2021-10-17T13:20:00Z",
                           base_url="https://divoc.test")

    Bundle.model_validate(doc)  # FHIR R4(B) structure
    assert (doc["type"], doc["timestamp"], doc["identifier"]["value"]) == (
        "document", "2021-10-17T13:20:00Z", "10000000000000000001")
    assert doc["link"] == [{"relation": "publication", "url": "urn:HCID:10000000000000000001"}]
    resources = {e["resource"]["resourceType"]: e for e in doc["entry"]}
    assert [e["resource"]["resourceType"] for e in doc["entry"]] == [
        "Composition", "Patient", "Organization", "Immunization", "ImmunizationRecommendation"]
    urls = {e["fullUrl"] for e in doc["entry"]}
    assert all(u.startswith("urn:uuid:") for u in urls) and len(urls) == 5

    composition = resources["Composition"]["resource"]
    assert composition["type"]["coding"] == [{"system": "http://loinc.org", "code": "82593-5"}]
    assert composition["category"][0]["coding"][0]["code"] == "ddcc-vs"
    assert composition["subject"]["reference"] == resources["Patient"]["fullUrl"]
    assert composition["attester"] == [{"mode": "official", "party": {"reference": resources["Organization"]["fullUrl"]}}]
    assert composition["event"] == [{"period": {"start": "2021-10-25", "end": "2022-10-24"}}]
    [section] = composition["section"]
    assert section["code"]["coding"][0]["code"] == "11369-6"
    assert section["focus"]["reference"] == resources["Immunization"]["fullUrl"]

    patient = resources["Patient"]["resource"]
    assert patient["name"] == [{"use": "official", "text": "John Doe"}] and patient["birthDate"] == "1987-04-21"
    assert resources["Organization"]["resource"]["name"] == "Ministry of Health"

    imm = resources["Immunization"]["resource"]
    assert imm["vaccineCode"]["coding"][0]["system"] == ICD11_MMS
    assert imm["vaccineCode"]["coding"][0]["code"] == "XM9QW8"
    assert {x["url"]: {k: v for k, v in x.items() if k != "url"} for x in imm["extension"]} == {
        DDCC + "DDCCEventBrand": {"valueCoding": {"display": "Covishield"}},
        DDCC + "DDCCCountryOfEvent": {"valueCode": "LK"},
        DDCC + "DDCCVaccineValidFrom": {"valueDate": "2021-10-25"},
    }
    assert (imm["occurrenceDateTime"], imm["lotNumber"], imm["location"], imm["manufacturer"]) == (
        "2021-10-17", "41202025", {"display": "MOH Gothatuwa"}, {"display": "astrazeneca"})
    assert imm["performer"] == [{"actor": {"display": "Bartjan Verduijn"}}]
    [protocol] = imm["protocolApplied"]
    assert (protocol["doseNumberPositiveInt"], protocol["seriesDosesPositiveInt"]) == (1, 2)
    assert protocol["targetDisease"][0]["coding"][0]["code"] == "RA01"
    assert protocol["authority"]["reference"] == resources["Organization"]["fullUrl"]

    recommendation = resources["ImmunizationRecommendation"]["resource"]["recommendation"][0]
    assert recommendation["dateCriterion"][0]["value"] == "2021-11-15"
    assert recommendation["supportingImmunization"] == [{"reference": resources["Immunization"]["fullUrl"]}]

    # every reference resolves inside the document
    refs = set()

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                refs.add(value["reference"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    assert refs <= urls


def test_same_certificate_same_document():
    ddcc = ddcc_vs_from_credential(credential())
    first = ddcc_vs_document(ddcc, issuer_name="MoH", timestamp="2021-10-17T13:20:00Z", base_url="https://divoc.test")
    again = ddcc_vs_document(ddcc, issuer_name="MoH", timestamp="2021-10-17T13:20:00Z", base_url="https://divoc.test")
    assert first == again
    assert "ImmunizationRecommendation" not in json.dumps(first)  # no next-dose date known
