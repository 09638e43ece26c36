"""Which metadata keys identify a patient (hidden by ``medvis info`` unless ``--phi``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PHI_KEYS", "PHI_DICOM_KEYWORDS", "redact"]

#: Keys of :attr:`Volume.metadata` that identify a person or a visit.
PHI_KEYS: frozenset[str] = frozenset(
    {
        "patient_name",
        "patient_id",
        "patient_birth_date",
        "patient_sex",
        "patient_age",
        "patient_address",
        "other_patient_ids",
        "institution_name",
        "institution_address",
        "referring_physician_name",
        "performing_physician_name",
        "operators_name",
        "accession_number",
        "study_date",
        "study_time",
        "series_date",
        "acquisition_date",
        "content_date",
        "study_id",
        "station_name",
        "device_serial_number",
    }
)

#: DICOM keywords hidden in tag dumps: the basic profile's identifying attributes.
PHI_DICOM_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientSex",
        "PatientAge",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientMotherBirthName",
        "OtherPatientIDs",
        "OtherPatientNames",
        "OtherPatientIDsSequence",
        "EthnicGroup",
        "PatientComments",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "ReferringPhysicianName",
        "PerformingPhysicianName",
        "NameOfPhysiciansReadingStudy",
        "OperatorsName",
        "PhysiciansOfRecord",
        "AccessionNumber",
        "StudyDate",
        "SeriesDate",
        "AcquisitionDate",
        "ContentDate",
        "StudyTime",
        "SeriesTime",
        "AcquisitionTime",
        "ContentTime",
        "AcquisitionDateTime",
        "StudyID",
        "StationName",
        "DeviceSerialNumber",
        "RequestingPhysician",
        "ScheduledPerformingPhysicianName",
    }
)


def redact(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``metadata`` with identifying values replaced by ``"<hidden>"``."""
    return {
        k: ("<hidden>" if k in PHI_KEYS and v not in (None, "") else v) for k, v in metadata.items()
    }
